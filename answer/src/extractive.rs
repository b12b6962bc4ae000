//! The extractive answerer: no generative model, answers in milliseconds.
//!
//! - A question that asks for a typed value (a date, an amount, a currency, an identifier, an
//!   e-mail address, a website, a phone number, a percentage; see `question`) is answered with
//!   the value on the page whose label best matches the question's words. The label is what is
//!   printed before the value on its line, the name of its row, or the line above it (the page's
//!   layout is rebuilt first, so a table header labels the values under it). Dates come back in
//!   ISO 8601, amounts as plain numbers, currencies as ISO 4217 codes; the citation keeps the
//!   page's own wording. When no label matches and the page holds several values of the type, it
//!   says "not found" rather than guess.
//! - "Who issued the invoice?" is answered from the document's title or a "received by",
//!   "issued by", "sold by" or "ordered through" line.
//! - Anything else gets the passage that best matches the question's words (for a "label: value"
//!   line, the value).

use crate::evidence::Evidence;
use crate::fields::{self, Kind, Value};
use crate::question::{self, Expect, Question};
use crate::text::{self, Passage};
use crate::{Answerer, Flow, Generation, Result, Task};
use loupe_schemas::llm::FinishReason;
use std::time::Instant;

pub struct Extractive;

/// One source as the extractive answerer reads it: its number and its passages.
pub type Doc<'a> = (u32, &'a [Passage]);

/// The best answer for a question: (source number, passage index, the answer text).
pub fn best(question: &str, evidence: &[Evidence]) -> Option<(u32, usize, String)> {
    let docs: Vec<Doc<'_>> = evidence.iter().map(|e| (e.n, e.passages.as_slice())).collect();
    answer_from(question, &docs)
}

/// [`best`] over bare passages.
pub fn answer_from(question: &str, evidence: &[Doc<'_>]) -> Option<(u32, usize, String)> {
    let q = question::analyse(question);
    if let Some(kind) = q.expect.kind() {
        let found = typed(&q, kind, evidence);
        // "When does the meeting start?" may be answered by a day or an hour, not a date.
        if found.is_some() || q.strict {
            return found;
        }
    }
    if q.expect == Expect::Name
        && let Some(a) = issuer(question, evidence)
    {
        return Some(a);
    }
    by_passage(question, evidence)
}

/// One value of the asked-for type on the page, with how well its label matches the question.
#[derive(Debug)]
struct Candidate {
    n: u32,
    passage: usize,
    score: f32,
    /// Whether its label has one of the words that say which value is asked for.
    fits: bool,
    value: Value,
}

/// The currency printed with the amount `answer` (a plain number) in `text`, if any.
fn currency_of_amount(answer: &str, text: &str) -> Option<&'static str> {
    let Some(Value::Amount { value: want, .. }) = fields::parse_amount(answer) else {
        return None;
    };
    if !answer.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '-') {
        return None;
    }
    let texts = [text];
    fields::find(text, fields::date_order(&texts))
        .into_iter()
        .find_map(|f| match f.value {
            Value::Amount {
                value,
                currency: Some(c),
                ..
            } if (value - want).abs() < 0.005 => Some(c),
            _ => None,
        })
}

/// Whether the question asks for an amount without tax ("before tax", "excluding VAT", "net").
fn before_tax(q: &str) -> bool {
    let q = q.to_lowercase();
    [
        "before tax",
        "excluding tax",
        "without tax",
        "pre-tax",
        "pretax",
        "net amount",
        "subtotal",
        "sub-total",
        "excluding vat",
        "before vat",
        "ex vat",
        "excl",
    ]
    .iter()
    .any(|p| q.contains(p))
}

const TAX_WORDS: &[&str] = &["tax", "vat", "gst", "cgst", "sgst", "igst", "cst"];

/// The label of the value at bytes `at..end` of passage `i`: near, the words before it in its
/// cell (or the cell before it on its row when its own has none); far, the rest of its row (its
/// name, its other cells) and, for a value that opens its row, the short line above.
fn label_of(ps: &[Passage], i: usize, at: usize, end: usize) -> (String, String) {
    let text = &ps[i].text;
    let before = text.get(..at).unwrap_or_default();
    let cells: Vec<&str> = before.split(" | ").collect();
    let own = cells.last().copied().unwrap_or_default().trim();
    let wordy = |s: &str| s.chars().filter(|c| c.is_alphabetic()).count() >= 2;
    let borrowed = !wordy(own) && cells.len() >= 2;
    let (near, rest_before) = if borrowed {
        let k = cells.len() - 2;
        (format!("{} {own}", cells[k]), cells[..k].join(" | "))
    } else {
        (own.to_string(), cells[..cells.len() - 1].join(" | "))
    };
    let mut far = format!("{rest_before} {}", text.get(end..).unwrap_or_default());
    if cells.len() == 1 && !wordy(own) && i > 0 {
        let above = ps[i - 1].text.trim();
        if above.split_whitespace().count() <= 6 && !above.chars().any(|c| c.is_ascii_digit()) {
            far.push(' ');
            far.push_str(above);
        }
    }
    (near, far)
}

fn matches_kind(v: &Value, kind: Kind) -> bool {
    match (v, kind) {
        (
            Value::Amount {
                currency: Some(_), ..
            },
            Kind::Currency,
        ) => true,
        _ => v.kind() == kind,
    }
}

/// The answer to a typed question: the value whose label matches best.
fn typed(q: &Question, kind: Kind, evidence: &[Doc<'_>]) -> Option<(u32, usize, String)> {
    let cands = candidates(q, kind, evidence);
    if kind == Kind::Currency {
        return currency(&cands);
    }
    // One value of the type in all the sources: it is the answer whatever its label.
    if sole_value(&cands, kind) {
        let first = cands.first()?;
        return Some((first.n, first.passage, standard(&first.value, q.expect)));
    }
    let top = cands
        .iter()
        .filter(|c| c.fits)
        .map(|c| c.score)
        .fold(0.0f32, f32::max);
    if top <= 0.0 {
        return None;
    }
    let pick = cands
        .iter()
        .filter(|c| c.fits && c.score >= top - 1e-6)
        .min_by_key(|c| (c.n, c.passage))?;
    Some((pick.n, pick.passage, standard(&pick.value, q.expect)))
}

/// Whether the sources hold just one value of the type (identifiers excepted: pages carry many
/// numbers that are not the one asked for).
fn sole_value(cands: &[Candidate], kind: Kind) -> bool {
    // A date or an amount must still be the one asked for ("the due date" is not the only date
    // printed, when that is the invoice date); pages rarely carry more than one e-mail address,
    // web address, phone number or percentage, and questions name those loosely.
    let loose = matches!(kind, Kind::Email | Kind::Url | Kind::Phone | Kind::Percent);
    kind != Kind::Identifier
        && (loose || cands.iter().all(|c| c.fits))
        && cands
            .first()
            .is_some_and(|first| cands.iter().all(|c| c.value.standard() == first.value.standard()))
}

/// The values a typed question may be answered with, as (source, passage, value): those whose
/// label has a word saying which one is asked for and matches the question, or the only value of
/// the type in the sources; for a currency, any currency printed. An answer from a model that is
/// none of these (an account number given for "the IBAN") is not supported by the page.
pub fn acceptable(q: &Question, kind: Kind, evidence: &[Doc<'_>]) -> Vec<(u32, usize, Value)> {
    let cands = candidates(q, kind, evidence);
    let all = kind == Kind::Currency || sole_value(&cands, kind);
    cands
        .into_iter()
        .filter(|c| all || (c.fits && c.score > 0.0))
        .map(|c| (c.n, c.passage, c.value))
        .collect()
}

/// A value found on a page: (source, passage, near label terms, far label terms, value).
type Labelled = (u32, usize, Vec<String>, Vec<String>, Value);

/// Every value of the type in the sources, with how well its label matches the question.
fn candidates(q: &Question, kind: Kind, evidence: &[Doc<'_>]) -> Vec<Candidate> {
    let every: Vec<&str> = evidence
        .iter()
        .flat_map(|(_, ps)| ps.iter().map(|p| p.text.as_str()))
        .collect();
    let net = q.expect == Expect::Amount && before_tax_label(&q.label);
    let mut label: Vec<String> = q.label.clone();
    if net {
        label.retain(|t| !TAX_WORDS.contains(&t.as_str()) && t != "befor");
        label.extend(["subtotal", "net", "charg", "taxabl"].map(String::from));
    }
    let weights = text::weigh(&label, &every);
    // The words that say which one of its kind is asked for ("due" in "due date", "check" and
    // "in" in "check-in date"); a value whose label has none of them is not the one asked for.
    // Words that only say the type ("date", "number"), name the kind of document ("invoice" in
    // "invoice date"), or name the document itself ("the Netpresse invoice": a capitalised word
    // printed on the page but in no value's label) are not needed; an identifier question with no
    // other such word still needs its document word on the label ("invoice number" is not an
    // "Account No.").
    let type_words: Vec<String> = TYPE_WORDS.iter().map(|w| text::stem(w)).collect();
    let doc_words: Vec<String> = DOC_WORDS.iter().map(|w| text::stem(w)).collect();
    let mut found: Vec<Labelled> = Vec::new();
    for &(n, ps) in evidence {
        let texts: Vec<&str> = ps.iter().map(|p| p.text.as_str()).collect();
        let order = fields::date_order(&texts);
        for (i, p) in ps.iter().enumerate() {
            for f in fields::find(&p.text, order) {
                if !matches_kind(&f.value, kind) {
                    continue;
                }
                let (near, far) = label_of(ps, i, f.start, f.end);
                let near = question::page_label_terms(&near);
                let far = question::page_label_terms(&far);
                if net && near.iter().chain(&far).any(|t| TAX_WORDS.contains(&t.as_str())) {
                    continue;
                }
                found.push((n, i, near, far, f.value));
            }
        }
    }
    let on_page: Vec<String> = every
        .iter()
        .flat_map(|p| text::tokens(p))
        .map(|t| text::stem(&t))
        .collect();
    let in_labels = |t: &String| found.iter().any(|c| c.2.contains(t) || c.3.contains(t));
    let names: Vec<&String> = q
        .names
        .iter()
        .filter(|t| on_page.contains(t) && !in_labels(t))
        .collect();
    let qualifiers: Vec<&String> = label
        .iter()
        .filter(|t| !type_words.contains(t) && !doc_words.contains(t) && !names.contains(t))
        .collect();
    let doc_needed =
        kind == Kind::Identifier && qualifiers.is_empty() && label.iter().any(|t| doc_words.contains(t));
    let satisfies = |terms: &[String], value: &Value| {
        if !qualifiers.is_empty() {
            qualifiers.iter().any(|r| {
                terms.contains(r)
                    || matches!((fields::currency_of(r), value),
                        (Some(c), Value::Amount { currency: Some(v), .. }) if c == *v)
            })
        } else if doc_needed {
            terms.iter().any(|t| doc_words.contains(t))
        } else {
            true
        }
    };
    let mut cands: Vec<Candidate> = Vec::new();
    for (n, i, near, far, value) in found {
        // A label beside the value counts fully, the rest of its row or the line above half.
        let score: f32 = weights
            .iter()
            .map(|(t, w)| {
                if near.contains(t) {
                    *w
                } else if far.contains(t) {
                    0.5 * w
                } else {
                    0.0
                }
            })
            .sum();
        let terms: Vec<String> = near.into_iter().chain(far).collect();
        cands.push(Candidate {
            n,
            passage: i,
            score,
            fits: satisfies(&terms, &value),
            value,
        });
    }
    cands
}

/// A value in the form an answer gives it (a website as its host).
fn standard(v: &Value, expect: Expect) -> String {
    match (v, expect) {
        (Value::Url(u), Expect::Website) => host(u),
        (v, _) => v.standard(),
    }
}

/// Words that say only what type of value is asked for.
const TYPE_WORDS: &[&str] = &[
    "date",
    "amount",
    "number",
    "no",
    "id",
    "code",
    "value",
    "figure",
    "sum",
    "address",
    "e-mail",
    "email",
    "mail",
    "percentage",
    "percent",
    "phone",
    "website",
    "site",
    "url",
    "currency",
    "given",
    "used",
    "shown",
    "printed",
    "written",
    "mentioned",
    "listed",
    "stated",
];

/// Words that name the kind of document.
const DOC_WORDS: &[&str] = &[
    "invoice",
    "receipt",
    "bill",
    "document",
    "statement",
    "page",
    "form",
    "letter",
];

fn before_tax_label(label: &[String]) -> bool {
    before_tax(&label.join(" "))
        || (label
            .iter()
            .any(|t| t == "befor" || t == "without" || t == "excluding")
            && label.iter().any(|t| TAX_WORDS.contains(&t.as_str())))
}

/// The host of a web address ("aws.amazon.com/contact-us/" -> "aws.amazon.com").
fn host(url: &str) -> String {
    let u = url.trim_start_matches("https://").trim_start_matches("http://");
    u.split(['/', '?', '#']).next().unwrap_or(u).to_string()
}

/// The currency most of the page's amounts are in.
fn currency(cands: &[Candidate]) -> Option<(u32, usize, String)> {
    let code = |v: &Value| match v {
        Value::Currency(c) => Some(*c),
        Value::Amount { currency, .. } => *currency,
        _ => None,
    };
    let mut counts: Vec<(&'static str, usize, &Candidate)> = Vec::new();
    for c in cands {
        if let Some(k) = code(&c.value) {
            match counts.iter_mut().find(|(x, ..)| *x == k) {
                Some(e) => e.1 += 1,
                None => counts.push((k, 1, c)),
            }
        }
    }
    let (k, _, c) = counts
        .iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.2.n.cmp(&a.2.n)))?;
    Some((c.n, c.passage, (*k).to_string()))
}

/// Words in a title that say what kind of document it is, not who issued it.
const GENERIC: &[&str] = &[
    "retail",
    "tax",
    "commercial",
    "proforma",
    "pro-forma",
    "sales",
    "payment",
    "original",
    "duplicate",
    "copy",
    "final",
    "simplified",
    "invoice",
    "invoices",
    "receipt",
    "bill",
    "the",
    "your",
    "summary",
    "gst",
    "vat",
];

/// "Who issued the invoice?": the name in the document's title ("Amazon Web Services Invoice"),
/// else the one after "issued by", "received by", "sold by", "ordered through" or "from".
fn issuer(question: &str, evidence: &[Doc<'_>]) -> Option<(u32, usize, String)> {
    let ql = question.to_lowercase();
    let asks = [
        "issu", "vendor", "seller", "supplier", "merchant", "company", "billed", "sent",
    ]
    .iter()
    .any(|w| ql.contains(w));
    if !asks {
        return None;
    }
    for &(n, ps) in evidence {
        for (i, p) in ps.iter().enumerate().take(8) {
            for cell in p.text.split(" | ") {
                if let Some(name) = title_name(cell) {
                    return Some((n, i, name));
                }
            }
        }
    }
    for lead in [
        "issued by",
        "billed by",
        "invoice from",
        "received by",
        "ordered through",
        "sold by",
        "from",
    ] {
        for &(n, ps) in evidence {
            for (i, p) in ps.iter().enumerate() {
                for cell in p.text.split(" | ") {
                    let lower = cell.to_lowercase();
                    let Some(at) = lower.find(lead) else { continue };
                    let rest = cell.get(at + lead.len()..).unwrap_or_default();
                    if let Some(name) = name_after(rest) {
                        return Some((n, i, name));
                    }
                    // "Ordered Through :" with the name on the line below.
                    let below = ps.get(i + 1).and_then(|p| p.text.split(" | ").next());
                    if rest.trim_matches([':', ' ', '-']).is_empty()
                        && let Some(name) = below.and_then(name_after)
                    {
                        return Some((n, i + 1, name));
                    }
                }
            }
        }
    }
    None
}

/// "Amazon Web Services Invoice" -> "Amazon Web Services".
fn title_name(cell: &str) -> Option<String> {
    let words: Vec<&str> = cell.split_whitespace().collect();
    let at = words.iter().position(|w| {
        let w = w.trim_matches(|c: char| !c.is_alphabetic()).to_lowercase();
        matches!(w.as_str(), "invoice" | "receipt" | "bill" | "statement")
    })?;
    let name: Vec<&str> = words[..at]
        .iter()
        .copied()
        .filter(|w| !GENERIC.contains(&w.to_lowercase().as_str()))
        .collect();
    let capitalised = name.iter().all(|w| {
        w.chars()
            .next()
            .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
    });
    (!name.is_empty() && name.len() <= 5 && capitalised).then(|| name.join(" "))
}

/// The name at the start of `rest` (": Flipkart.com Customer Care" -> "Flipkart"): capitalised
/// words, or a web address reduced to its name.
fn name_after(rest: &str) -> Option<String> {
    let rest = rest.trim_start_matches([':', ' ', '-']);
    let mut name: Vec<&str> = Vec::new();
    for w in rest.split_whitespace() {
        let clean = w.trim_end_matches([',', '.', ';', ':', ')']);
        if let Some(site) = site_name(clean) {
            if name.is_empty() {
                return Some(site);
            }
            break;
        }
        let starts_upper = clean.chars().next().is_some_and(char::is_uppercase);
        if !starts_upper || name.len() >= 4 {
            break;
        }
        name.push(clean);
    }
    (!name.is_empty()).then(|| name.join(" "))
}

/// "Flipkart.com" or "www.flipkart.com" -> "Flipkart" (as capitalised on the page when it is).
fn site_name(w: &str) -> Option<String> {
    let lower = w.to_lowercase();
    let tld = [".com", ".in", ".co.uk", ".org", ".net", ".de", ".fr", ".io"]
        .into_iter()
        .find(|t| lower.ends_with(t))?;
    let stem = w.get(..w.len() - tld.len())?;
    let stem = stem
        .strip_prefix("www.")
        .or_else(|| stem.strip_prefix("WWW."))
        .unwrap_or(stem);
    let stem = stem.rsplit('.').next().unwrap_or(stem);
    if stem.is_empty() || !stem.chars().all(|c| c.is_alphanumeric() || c == '-') {
        return None;
    }
    let mut out: String = stem.to_string();
    if stem.chars().all(|c| c.is_lowercase()) {
        let mut cs = stem.chars();
        out = cs
            .next()
            .map(|c| c.to_uppercase().chain(cs).collect())
            .unwrap_or_default();
    }
    Some(out)
}

/// The passage that best matches the question's words, or for a "label value" passage the value.
fn by_passage(question: &str, evidence: &[Doc<'_>]) -> Option<(u32, usize, String)> {
    let mut terms = text::content_terms(question);
    for t in terms.clone() {
        for s in question::synonyms(&t) {
            let s = text::stem(s);
            if !terms.contains(&s) {
                terms.push(s);
            }
        }
    }
    if terms.is_empty() {
        return None;
    }
    let all: Vec<&str> = evidence
        .iter()
        .flat_map(|(_, ps)| ps.iter().map(|p| p.text.as_str()))
        .collect();
    let weights = text::weigh(&terms, &all);
    // Synonyms widen the match but do not raise the bar.
    let asked = text::content_terms(question);
    let max_weight: f32 = weights
        .iter()
        .filter(|(t, _)| asked.contains(t))
        .map(|(_, w)| w)
        .sum();
    let mut best: Option<(u32, usize, f32)> = None;
    for &(n, ps) in evidence {
        for (i, p) in ps.iter().enumerate() {
            // A header row ("Booking ID | Payment Mode") names values; the rows under it hold them.
            if header_row(&p.text) && i + 1 < ps.len() {
                continue;
            }
            let s = text::overlap(&p.text, &weights);
            // A small preference for higher-ranked sources and shorter passages breaks ties.
            let s = s - 0.01 * n as f32 - 0.0005 * p.text.len() as f32;
            if s > 0.0 && best.is_none_or(|b| s > b.2) {
                best = Some((n, i, s));
            }
        }
    }
    let (n, i, score) = best?;
    // At least a third of what the question is about must be there.
    if score < max_weight / 3.0 {
        return None;
    }
    let ps = evidence.iter().find(|d| d.0 == n)?.1;
    let answer = value_of(ps, i, &weights).unwrap_or_else(|| ps[i].text.clone());
    Some((n, i, answer))
}

/// A row of two or more short labels with no values.
fn header_row(line: &str) -> bool {
    let cells: Vec<&str> = line.split(" | ").collect();
    cells.len() >= 2
        && cells.iter().all(|c| {
            c.split_whitespace().count() <= 4 && !c.contains(':') && !c.chars().any(|ch| ch.is_ascii_digit())
        })
}

/// For a "label value" passage, the value: what follows the last question word in it (separators
/// trimmed), or the next passage when the label stands alone.
fn value_of(ps: &[Passage], i: usize, weights: &[(String, f32)]) -> Option<String> {
    let line = &ps[i].text;
    let words: Vec<&str> = line.split_whitespace().collect();
    let last = words
        .iter()
        .rposition(|w| weights.iter().any(|(t, _)| text::stem(&w.to_lowercase()) == *t))?;
    let trim = |s: &str| {
        s.trim_start_matches([':', '-', '–', '=', '.', ' ', '|'])
            .trim()
            .trim_end_matches(['.', ','])
            .to_string()
    };
    let rest = trim(&words[last + 1..].join(" "));
    // Up to the next cell of the row.
    let rest = rest.split(" | ").next().unwrap_or_default().to_string();
    let rest = rest
        .strip_prefix("is ")
        .or_else(|| rest.strip_prefix("was "))
        .map(str::to_string)
        .unwrap_or(rest);
    if !rest.is_empty() {
        return (rest.len() <= 80).then_some(rest);
    }
    // Only a label standing alone ("Payment Mode") has its value on the next line.
    if words.len() > 4 {
        return None;
    }
    let next = ps.get(i + 1).map(|p| trim(&p.text))?;
    (!next.is_empty() && next.len() <= 80).then_some(next)
}

impl Answerer for Extractive {
    fn name(&self) -> String {
        "extractive".into()
    }
    fn vision(&self) -> bool {
        false
    }
    fn evidence_budget(&self) -> usize {
        20_000
    }
    fn answer(&self, task: &Task<'_>, on_text: &mut dyn FnMut(&str) -> Flow) -> Result<Generation> {
        let started = Instant::now();
        let text = match best(task.question, task.evidence) {
            // A person reading a full answer is told the currency too ("518 EUR"); brief answers
            // are the bare value (the response's `value` carries the currency).
            Some((n, i, answer)) if !task.brief => {
                let passage = task
                    .evidence
                    .iter()
                    .find(|e| e.n == n)
                    .and_then(|e| e.passages.get(i));
                let code = passage.and_then(|p| currency_of_amount(&answer, &p.text));
                match code {
                    Some(c) => format!("{answer} {c} [{n}]"),
                    None => format!("{answer} [{n}]"),
                }
            }
            Some((n, _, answer)) => format!("{answer} [{n}]"),
            None => crate::prompt::NOT_FOUND_MARK.to_string(),
        };
        on_text(&text);
        Ok(Generation {
            text,
            usage: None,
            finish: FinishReason::Stop,
            first_token_ms: Some(started.elapsed().as_secs_f64() * 1000.0),
            generate_ms: None,
            prompt_ms: None,
            cached_tokens: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(q: &str, lines: &[&str]) -> Option<String> {
        let ps: Vec<Passage> = lines
            .iter()
            .map(|l| Passage {
                text: l.to_string(),
                boxes: Vec::new(),
                time: None,
            })
            .collect();
        answer_from(q, &[(1, &ps)]).map(|(_, _, a)| a)
    }

    const AWS: &[&str] = &[
        "Amazon Web Services Invoice",
        "Email or talk to us about your AWS account or bill, visit aws.amazon.com/contact-us/",
        "Account number:",
        "Invoice Summary",
        "296664039561 | Invoice Number: 42183017",
        "Invoice Date: August 3 , 2014",
        "ATTN: iViveLabs Limited | TOTAL AMOUNT DUE ON August 3 , 2014 | $4.11",
        "AWS Service Charges | $4.11",
        "Charges | $4.11",
        "Tax * | $0.00",
        "Total for this invoice | $4.11",
    ];

    const OYO: &[&str] = &[
        "PAYMENT RECEIPT",
        "Guest Name: Sanjay | Date: 31/12/2017",
        "Hotel Details | Check In | Check Out | Rooms",
        "Hotel Details: OYO 4189 Resort Nanganallur, | Check In: 31/12/2017 | Check Out: 01/01/2018 | Rooms: 1",
        "Booking ID | Payment Mode",
        "Booking ID: IBZY2087 | Payment Mode: Cash at Hotel",
        "DESCRIPTION | RATE | AMOUNT",
        "Room Charges | RATE: Rs 1939 x 1 Night x 1 Room | AMOUNT: Rs 1939",
        "Grand Total | AMOUNT: Rs 1939",
        "Payment received by OYO | Paid through Cash At Hotel (Rs 1939) | Rs 1939",
        "Bank Name | Account No.",
        "Bank Name: HDFC Bank | Account No.: 00030340067212",
        "GSTIN | CIN",
        "GSTIN: 06AABCO6063D1ZQ | CIN: U63090DL2012PTC231770",
    ];

    #[test]
    fn invoice_fields_come_back_in_standard_form() {
        let cases = [
            (AWS, "What is the invoice number?", Some("42183017")),
            (AWS, "What is the invoice date?", Some("2014-08-03")),
            (AWS, "What is the total amount?", Some("4.11")),
            (AWS, "What is the amount before tax?", Some("4.11")),
            (AWS, "What currency is used?", Some("USD")),
            (
                AWS,
                "What website is given for the partner?",
                Some("aws.amazon.com"),
            ),
            (AWS, "Who issued the invoice?", Some("Amazon Web Services")),
            (OYO, "What is the booking ID?", Some("IBZY2087")),
            (OYO, "What is the check-in date?", Some("2017-12-31")),
            (OYO, "What is the check-out date?", Some("2018-01-01")),
            (OYO, "What is the invoice date?", Some("2017-12-31")),
            (OYO, "What is the total amount?", Some("1939")),
            (OYO, "What currency is used?", Some("INR")),
            (OYO, "What is the GSTIN?", Some("06AABCO6063D1ZQ")),
            (OYO, "Who issued the invoice?", Some("OYO")),
            (OYO, "What is the IBAN?", None),
            (OYO, "What is the due date?", None),
        ];
        for (doc, q, want) in cases {
            assert_eq!(ask(q, doc).as_deref(), want, "{q}");
        }
    }

    #[test]
    fn a_label_beside_the_value_beats_one_on_the_line_above() {
        let ocr = [
            "Account number: Invoice Summary",
            "296664039561",
            "Invoice Number: 42183017",
        ];
        assert_eq!(
            ask("What is the invoice number?", &ocr).as_deref(),
            Some("42183017")
        );
        assert_eq!(
            ask("What is the account number?", &ocr).as_deref(),
            Some("296664039561")
        );
    }

    #[test]
    fn issuers_and_modes_are_read_from_their_labels() {
        let flipkart = [
            "Retail Invoices/Bill",
            "Sold By : WS Retail Services Pvt. Ltd.,",
            "Ordered Through :",
            "Flipkart.com Customer Care : 1800 208 9898",
        ];
        assert_eq!(
            ask("Who issued the invoice?", &flipkart).as_deref(),
            Some("Flipkart")
        );
        assert_eq!(
            ask("What is the payment method?", OYO).as_deref(),
            Some("Cash at Hotel")
        );
    }

    #[test]
    fn a_named_document_is_not_a_label_and_a_missing_field_is_not_found() {
        let acme = [
            "ACME Office Supplies",
            "Invoice number: INV-2024-0042",
            "Customer: Northwind Traders",
        ];
        assert_eq!(ask("What is the IBAN of the ACME invoice?", &acme), None);
        assert_eq!(
            ask("What is the invoice number of the ACME invoice?", &acme).as_deref(),
            Some("INV-2024-0042")
        );
    }

    #[test]
    fn a_row_of_a_long_table_is_found_by_its_name() {
        let rows: Vec<String> = std::iter::once("SKU | Price".to_string())
            .chain((0..500).map(|i| format!("SKU: ITEM{i:03} | Price: {}.25", 10 + i)))
            .collect();
        let lines: Vec<&str> = rows.iter().map(String::as_str).collect();
        assert_eq!(
            ask("What is the price of ITEM377?", &lines).as_deref(),
            Some("387.25")
        );
    }

    #[test]
    fn free_text_questions_quote_the_passage() {
        let lines = [
            "Deacon Winn he lost money on pork",
            "the widow said I could get spiritual gifts",
        ];
        assert_eq!(
            ask("Who lost money on pork?", &lines).as_deref(),
            Some("Deacon Winn he lost money on pork")
        );
        assert_eq!(ask("What is the capital of France?", &lines), None);
    }
}
