//! Grounding: an answer is given only when a cited source supports it.
//!
//! A short answer (brief mode, or any answer of a dozen words or fewer) must be one of:
//!
//! - **a typed value on the page**: the question asks for a date, an amount, a currency, a
//!   percentage, an e-mail address, a web address, a phone number or an identifier, the answer
//!   reads as one, and a source holds the same value, however it is written ("Aug 3, 2014" and
//!   `2014-08-03`, "Rs. 1,939.00" and `1939`). The answer becomes the value's standard form and
//!   the citation keeps the page's wording;
//! - **a span of a source**, compared word by word after normalising case, punctuation at the
//!   ends of words and number formats; the answer becomes the span as the page writes it;
//! - **a near miss snapped to the closest span** (at least 80 % alike by characters, e.g. a model
//!   that wrote "Deacon Wynn" for "Deacon Winn").
//!
//! A question that certainly asks for a typed value is held to more: the value must be one the
//! page labels as the one asked for (`extractive::acceptable`), so an account number given for
//! "the IBAN" is not an answer even though the page prints it.
//!
//! Anything else is unsupported, and the caller answers "not found". Sources the answer cites
//! (`[n]`) are tried first. A longer answer (a sentence) is held to `text::supported` instead: its
//! numbers must be in the sources and its new words some of them.

use crate::evidence::Evidence;
use crate::fields::{self, DateOrder, Kind, Value};
use crate::question::{Expect, Question};
use crate::text::{self, Passage};
use loupe_schemas::answer::AnswerValue;

/// A supported answer and where it rests.
#[derive(Debug, Clone, PartialEq)]
pub struct Grounded {
    /// The source it rests on.
    pub n: u32,
    /// The passage of that source.
    pub passage: usize,
    /// What to answer: the value's standard form, the span as the page writes it, or (for a
    /// sentence) the answer as given.
    pub answer: String,
    pub value: Option<AnswerValue>,
}

/// A full (not brief) answer longer than this many words is a sentence, held to the sentence
/// check (its numbers and some words in the sources) rather than to a span.
const SHORT: usize = 4;

/// Longest answer a near miss is snapped for, in words.
const SNAP: usize = 12;

/// Sources in the order to try them: the cited ones first.
fn ordered<'a>(evidence: &'a [Evidence], cited: &[u32]) -> Vec<&'a Evidence> {
    let mut out: Vec<&Evidence> = cited
        .iter()
        .filter_map(|n| evidence.iter().find(|e| e.n == *n))
        .collect();
    out.extend(evidence.iter().filter(|e| !cited.contains(&e.n)));
    out
}

/// Checks an answer (citation markers already stripped) against the evidence. `brief`: the answer
/// should be just the value; it is then replaced by the value's standard form or the page's span.
pub fn check(
    answer: &str,
    question: &Question,
    evidence: &[Evidence],
    cited: &[u32],
    brief: bool,
    question_text: &str,
) -> Option<Grounded> {
    let answer = answer.trim();
    if answer.is_empty() {
        return None;
    }
    let short = brief || answer.split_whitespace().count() <= SHORT;
    let docs = ordered(evidence, cited);
    if let Some(kind) = question.expect.kind() {
        // A question that certainly asks for a typed value ("the invoice date", "the IBAN") is
        // answered only by a value of that type that the page labels as the one asked for (see
        // `extractive::acceptable`): a model that gives the account number for "the IBAN" quotes
        // the page, but not the answer.
        let allowed = question.strict.then(|| {
            let view: Vec<crate::extractive::Doc<'_>> =
                docs.iter().map(|e| (e.n, e.passages.as_slice())).collect();
            crate::extractive::acceptable(question, kind, &view)
        });
        for e in &docs {
            if let Some(g) = typed(answer, kind, question.expect, e, short, allowed.as_deref()) {
                return Some(g);
            }
        }
        if question.strict {
            return None;
        }
    }
    if short {
        for e in &docs {
            if let Some((passage, span)) = span_of(answer, &e.passages) {
                return Some(Grounded {
                    n: e.n,
                    passage,
                    answer: span,
                    value: None,
                });
            }
        }
        let mut best: Option<(f64, u32, usize, String)> = None;
        for e in &docs {
            if let Some((passage, span, sim)) = closest(answer, &e.passages)
                && best.as_ref().is_none_or(|b| sim > b.0)
            {
                best = Some((sim, e.n, passage, span));
            }
        }
        return best.map(|(_, n, passage, span)| Grounded {
            n,
            passage,
            answer: span,
            value: None,
        });
    }
    let sources: String = evidence.iter().map(|e| e.text() + "\n").collect();
    if !text::supported(answer, question_text, &sources) {
        return None;
    }
    let (n, passage) = match cited.first() {
        Some(&n) => (
            n,
            evidence
                .iter()
                .find(|e| e.n == n)
                .and_then(|e| crate::cite::attribute(answer, std::slice::from_ref(e)))
                .map_or(usize::MAX, |(_, i)| i),
        ),
        None => crate::cite::attribute(answer, evidence)?,
    };
    Some(Grounded {
        n,
        passage,
        answer: answer.to_string(),
        value: None,
    })
}

/// The answer read as a value of `kind` (the whole answer, or the one such value in it).
fn parse_as(answer: &str, kind: Kind, order: DateOrder) -> Option<Value> {
    let whole = match kind {
        Kind::Date => fields::parse_date(answer, order).map(Value::Date),
        Kind::Amount => fields::parse_amount(answer),
        Kind::Currency => currency_named(answer).map(Value::Currency),
        _ => None,
    };
    whole.or_else(|| {
        let found: Vec<Value> = fields::find(answer, order)
            .into_iter()
            .map(|f| f.value)
            .filter(|v| v.kind() == kind || (kind == Kind::Currency && currency(v).is_some()))
            .collect();
        match found.as_slice() {
            [one] if kind == Kind::Currency => currency(one).map(Value::Currency),
            [one] => Some(one.clone()),
            _ => None,
        }
    })
}

/// A currency named in a short answer: "USD", "$", "Indian Rupee", "US dollars", "euros".
fn currency_named(answer: &str) -> Option<&'static str> {
    let a = answer.trim().trim_end_matches(['.', '!']);
    fields::currency_of(a).or_else(|| {
        let words: Vec<&str> = a.split_whitespace().collect();
        (1..=words.len().min(3)).rev().find_map(|n| {
            words.windows(n).find_map(|w| {
                let phrase = w.join(" ");
                fields::currency_of(&phrase).or_else(|| fields::currency_of(&format!("{phrase}s")))
            })
        })
    })
}

fn currency(v: &Value) -> Option<&'static str> {
    match v {
        Value::Currency(c) => Some(c),
        Value::Amount { currency, .. } => *currency,
        _ => None,
    }
}

/// Whether a value on the page is the value answered.
fn same(page: &Value, answer: &Value) -> bool {
    match (page, answer) {
        (Value::Date(a), Value::Date(b)) => a == b,
        (
            Value::Amount {
                value: a,
                currency: ca,
                ..
            },
            Value::Amount {
                value: b,
                currency: cb,
                ..
            },
        ) => (a - b).abs() < 0.005 && (ca.is_none() || cb.is_none() || ca == cb),
        (_, Value::Currency(c)) => currency(page) == Some(c),
        (Value::Percent { value: a, .. }, Value::Percent { value: b, .. }) => (a - b).abs() < 1e-9,
        (Value::Email(a), Value::Email(b)) => a.eq_ignore_ascii_case(b),
        (Value::Url(a), Value::Url(b)) => {
            let (a, b) = (bare_url(a), bare_url(b));
            a == b || a.starts_with(&format!("{b}/"))
        }
        (Value::Phone(a), Value::Phone(b)) => digits(a) == digits(b),
        (Value::Identifier(a), Value::Identifier(b)) => id_form(a) == id_form(b),
        _ => false,
    }
}

fn bare_url(u: &str) -> String {
    u.to_lowercase()
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_start_matches("www.")
        .trim_end_matches('/')
        .to_string()
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

fn id_form(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric() || *c == '_' || *c == '-' || *c == '/')
        .flat_map(char::to_lowercase)
        .collect()
}

/// A typed answer found among a source's values.
fn typed(
    answer: &str,
    kind: Kind,
    expect: Expect,
    e: &Evidence,
    short: bool,
    allowed: Option<&[(u32, usize, Value)]>,
) -> Option<Grounded> {
    let texts: Vec<&str> = e.passages.iter().map(|p| p.text.as_str()).collect();
    let order = fields::date_order(&texts);
    let want = parse_as(answer, kind, order)?;
    for (i, p) in e.passages.iter().enumerate() {
        for f in fields::find(&p.text, order) {
            if !same(&f.value, &want) {
                continue;
            }
            if let Some(ok) = allowed
                && !ok.iter().any(|(n, k, v)| *n == e.n && *k == i && same(v, &want))
            {
                continue;
            }
            let as_written = p.text.get(f.start..f.end).unwrap_or_default().to_string();
            let standard = match (&want, expect) {
                (Value::Currency(c), _) => (*c).to_string(),
                (Value::Url(u), Expect::Website) => {
                    bare_url(u).split('/').next().unwrap_or_default().to_string()
                }
                _ => f.value.standard(),
            };
            let value = AnswerValue {
                kind,
                value: standard.clone(),
                as_written,
                currency: match (&f.value, kind) {
                    (Value::Amount { currency, .. }, Kind::Amount) => currency.map(str::to_string),
                    _ => None,
                },
            };
            return Some(Grounded {
                n: e.n,
                passage: i,
                answer: if short { standard } else { answer.to_string() },
                value: Some(value),
            });
        }
    }
    None
}

/// A passage's words with their byte ranges, normalised for comparing.
fn words(s: &str) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut start = None;
    let push = |out: &mut Vec<(usize, usize, String)>, a: usize, b: usize| {
        let w = &s[a..b];
        let norm = text::number_form(&w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase());
        if !norm.is_empty() {
            out.push((a, b, norm));
        }
    };
    for (i, c) in s.char_indices() {
        match (c.is_whitespace() || c == '|', start) {
            (true, Some(a)) => {
                push(&mut out, a, i);
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(a) = start {
        push(&mut out, a, s.len());
    }
    out
}

/// The passage holding the answer's words in a row, and that span as the page writes it.
fn span_of(answer: &str, ps: &[Passage]) -> Option<(usize, String)> {
    let a: Vec<String> = words(answer).into_iter().map(|w| w.2).collect();
    if a.is_empty() {
        return None;
    }
    for (i, p) in ps.iter().enumerate() {
        let w = words(&p.text);
        if let Some(k) = w
            .windows(a.len())
            .position(|win| win.iter().map(|x| &x.2).eq(a.iter()))
        {
            let span = p.text.get(w[k].0..w[k + a.len() - 1].1)?;
            return Some((i, span.trim_end_matches([',', ';', ':']).to_string()));
        }
    }
    None
}

/// The span of the passages closest to the answer, when at least 80 % alike by characters.
fn closest(answer: &str, ps: &[Passage]) -> Option<(usize, String, f64)> {
    let a: Vec<String> = words(answer).into_iter().map(|w| w.2).collect();
    if a.is_empty() || a.len() > SNAP {
        return None;
    }
    let digits = |ws: &[String]| -> Vec<String> {
        ws.iter()
            .filter(|w| w.chars().any(|c| c.is_ascii_digit()))
            .cloned()
            .collect()
    };
    let want_digits = digits(&a);
    let target: Vec<char> = a.join(" ").chars().collect();
    let mut best: Option<(usize, usize, usize, f64)> = None;
    for (i, p) in ps.iter().enumerate() {
        let w = words(&p.text);
        for len in a.len().saturating_sub(1).max(1)..=a.len() + 1 {
            for (k, win) in w.windows(len).enumerate() {
                // A near miss may differ in spelling, never in a number ("12,600" is not
                // "12,500").
                let win_words: Vec<String> = win.iter().map(|x| x.2.clone()).collect();
                if digits(&win_words) != want_digits {
                    continue;
                }
                let cand: Vec<char> = win
                    .iter()
                    .map(|x| x.2.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
                    .chars()
                    .collect();
                let longest = cand.len().max(target.len()).max(1);
                let sim = 1.0 - loupe_metrics::edit_distance(&cand, &target) as f64 / longest as f64;
                if best.is_none_or(|b| sim > b.3) {
                    best = Some((i, k, len, sim));
                }
            }
        }
    }
    let (i, k, len, sim) = best?;
    if sim < 0.8 {
        return None;
    }
    let w = words(&ps[i].text);
    let span = ps[i].text.get(w[k].0..w[k + len - 1].1)?.to_string();
    Some((i, span, sim))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ps(lines: &[&str]) -> Vec<Passage> {
        lines
            .iter()
            .map(|l| Passage {
                text: l.to_string(),
                boxes: Vec::new(),
                time: None,
            })
            .collect()
    }

    #[test]
    fn spans_are_found_in_the_pages_wording() {
        let p = ps(&[
            "Invoice No : # BLR_WFLD20151000982590",
            "Grand Total | Rs 1,939.00",
        ]);
        assert_eq!(
            span_of("blr_wfld20151000982590", &p),
            Some((0, "BLR_WFLD20151000982590".into()))
        );
        assert_eq!(span_of("1939", &p), Some((1, "1,939.00".into())));
        assert_eq!(span_of("Rs 1939.0", &p), Some((1, "Rs 1,939.00".into())));
        assert_eq!(span_of("1940", &p), None);
    }

    #[test]
    fn near_misses_snap_and_far_ones_do_not() {
        let p = ps(&["Why, Deacon Winn lost money on pork", "the widow"]);
        assert_eq!(
            closest("Deacon Wynn", &p).map(|c| c.1),
            Some("Deacon Winn".to_string())
        );
        assert!(closest("Mark Twain", &p).is_none());
        let n = ps(&["Attendance was 12,500 in all"]);
        assert!(closest("Attendance was 12,600", &n).is_none());
    }

    #[test]
    fn currencies_are_read_from_how_people_name_them() {
        assert_eq!(currency_named("Indian Rupee"), Some("INR"));
        assert_eq!(currency_named("US dollars."), Some("USD"));
        assert_eq!(currency_named("$"), Some("USD"));
        assert_eq!(currency_named("Cash at Hotel"), None);
    }

    #[test]
    fn values_compare_as_values() {
        let d = |s| fields::parse_date(s, DateOrder::DayFirst).map(Value::Date);
        assert!(same(&d("August 3 , 2014").unwrap(), &d("2014-08-03").unwrap()));
        let a = |s| fields::parse_amount(s).unwrap();
        assert!(same(&a("Rs. 1,939.00"), &a("1939")));
        assert!(!same(&a("$4.12"), &a("4.11")));
        assert!(same(&a("$4.11"), &Value::Currency("USD")));
        assert!(same(
            &Value::Url("aws.amazon.com/contact-us/".into()),
            &Value::Url("aws.amazon.com".into())
        ));
    }
}
