//! Typed values in document text: dates, amounts, currencies, percents, e-mail addresses, URLs,
//! phone numbers and identifiers, as read from invoices, receipts and other scanned documents (OCR
//! or a PDF text layer), each put in a standard form.
//!
//! For:
//! - the extractive answerer, which answers "What is the invoice date?" with an ISO date and keeps
//!   the byte range of the document's own wording for the citation ([`find`]);
//! - normalising a language model's answer ([`parse_date`], [`parse_amount`], [`currency_of`]);
//! - the "value match" metric, which compares a prediction with a gold answer as values
//!   ([`same_value`]).
//!
//! Not for: layout (which value belongs to which label is the caller's business), locale-complete
//! number or date parsing (only the forms seen on invoices and receipts), spelled-out numbers
//! ("forty dollars"), times of day on their own, or validating identifiers (checksums, GSTIN rules).
//!
//! Nothing here does I/O or reads the environment, and no input makes it panic: every slice is taken
//! at a char boundary.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::{Captures, Regex};

/// How an ambiguous numeric date (03/08/2014) is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateOrder {
    /// 03/08/2014 is 3 August 2014.
    #[default]
    DayFirst,
    /// 03/08/2014 is March 8, 2014.
    MonthFirst,
}

/// A typed value read from a text.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A calendar date.
    Date(NaiveDate),
    /// `text`: the number in standard form: ASCII digits, optional '-' and '.', no grouping, no
    /// currency, the decimals as printed ("1,939.00" -> "1939.00", "Rs 1939" -> "1939",
    /// "4,11 €" -> "4.11" (decimal comma)).
    Amount {
        value: f64,
        text: String,
        currency: Option<&'static str>,
    },
    /// ISO 4217 code ("USD", "INR", "EUR", "GBP", "JPY", "CNY", "CHF", "CAD", "AUD", "HKD", "SGD", ...)
    Currency(&'static str),
    /// "12.5%" -> text "12.5%".
    Percent { value: f64, text: String },
    /// Lower-cased.
    Email(String),
    /// As written minus the scheme ("https://"), with a lower-cased host; e.g.
    /// "aws.amazon.com/contact-us/".
    Url(String),
    /// As written, whitespace collapsed.
    Phone(String),
    /// E.g. "42183017", "#BLR_WFLD20151000982590", "IBZY2087", "06AABCO6063D1ZQ".
    Identifier(String),
}

/// The kind of a [`Value`]: the same enum the API reports an answer's value kind with.
pub use loupe_schemas::answer::ValueKind as Kind;

impl Value {
    /// The standard form an app wants: ISO 8601 date (2014-08-03); amount: `text`; currency: the
    /// code; percent: text; others as stored.
    pub fn standard(&self) -> String {
        match self {
            Value::Date(d) => d.format("%Y-%m-%d").to_string(),
            Value::Amount { text, .. } | Value::Percent { text, .. } => text.clone(),
            Value::Currency(code) => (*code).to_string(),
            Value::Email(s) | Value::Url(s) | Value::Phone(s) | Value::Identifier(s) => s.clone(),
        }
    }

    /// The kind of this value.
    pub fn kind(&self) -> Kind {
        match self {
            Value::Date(_) => Kind::Date,
            Value::Amount { .. } => Kind::Amount,
            Value::Currency(_) => Kind::Currency,
            Value::Percent { .. } => Kind::Percent,
            Value::Email(_) => Kind::Email,
            Value::Url(_) => Kind::Url,
            Value::Phone(_) => Kind::Phone,
            Value::Identifier(_) => Kind::Identifier,
        }
    }
}

/// A value found in a text: byte range `start..end` of the text it was read from (the document's
/// own wording, for citations).
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub value: Value,
    pub start: usize,
    pub end: usize,
}

// ---------------------------------------------------------------------------------------------
// Currencies
// ---------------------------------------------------------------------------------------------

/// Where a currency name may stand next to a number in [`find`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Only before the number ("$4.11", "Rs 1939").
    Before,
    /// Only after the number ("4.11 dollars").
    After,
    /// Either side ("USD 4.11", "4,11 €").
    Both,
}

/// Currency names, symbols and codes. Three-letter upper-case codes are matched case-sensitively in
/// running text; everything else case-insensitively.
const CURRENCIES: &[(&str, &str, Place)] = &[
    ("$", "USD", Place::Before),
    ("US$", "USD", Place::Before),
    ("USD", "USD", Place::Both),
    ("US Dollars", "USD", Place::After),
    ("US Dollar", "USD", Place::After),
    ("Dollars", "USD", Place::After),
    ("Dollar", "USD", Place::After),
    ("₹", "INR", Place::Both),
    ("₨", "INR", Place::Both),
    ("Rs.", "INR", Place::Before),
    ("Rs", "INR", Place::Before),
    ("INR", "INR", Place::Both),
    ("Rupees", "INR", Place::After),
    ("Rupee", "INR", Place::After),
    ("€", "EUR", Place::Both),
    ("EUR", "EUR", Place::Both),
    ("Euros", "EUR", Place::After),
    ("Euro", "EUR", Place::After),
    ("£", "GBP", Place::Both),
    ("GBP", "GBP", Place::Both),
    ("Pounds Sterling", "GBP", Place::After),
    ("Pound Sterling", "GBP", Place::After),
    ("Sterling", "GBP", Place::After),
    ("¥", "JPY", Place::Both),
    ("円", "JPY", Place::After),
    ("JPY", "JPY", Place::Both),
    ("Yen", "JPY", Place::After),
    ("CNY", "CNY", Place::Both),
    ("RMB", "CNY", Place::Both),
    ("Yuan", "CNY", Place::After),
    ("元", "CNY", Place::After),
    ("CHF", "CHF", Place::Both),
    ("Swiss Francs", "CHF", Place::After),
    ("A$", "AUD", Place::Before),
    ("AU$", "AUD", Place::Before),
    ("AUD", "AUD", Place::Both),
    ("C$", "CAD", Place::Before),
    ("CA$", "CAD", Place::Before),
    ("CAD", "CAD", Place::Both),
    ("HK$", "HKD", Place::Before),
    ("HKD", "HKD", Place::Both),
    ("S$", "SGD", Place::Before),
    ("SGD", "SGD", Place::Both),
    ("NZ$", "NZD", Place::Before),
    ("NZD", "NZD", Place::Both),
    ("R$", "BRL", Place::Before),
    ("BRL", "BRL", Place::Both),
    ("₩", "KRW", Place::Both),
    ("KRW", "KRW", Place::Both),
    ("₽", "RUB", Place::Both),
    ("RUB", "RUB", Place::Both),
    ("₱", "PHP", Place::Both),
    ("AED", "AED", Place::Both),
    ("SAR", "SAR", Place::Both),
    ("ZAR", "ZAR", Place::Both),
    ("SEK", "SEK", Place::Both),
    ("NOK", "NOK", Place::Both),
    ("DKK", "DKK", Place::Both),
    ("PLN", "PLN", Place::Both),
    ("MXN", "MXN", Place::Both),
];

/// The ISO 4217 code of a currency name, symbol or code: "$"/"US$"/"USD"/"US Dollars"/"dollars" ->
/// USD; "Rs"/"Rs."/"₹"/"INR"/"rupees" -> INR; "€"/"EUR"/"euro" -> EUR; "£"/"GBP"/"pounds sterling"
/// -> GBP; "¥"/"JPY"/"yen" -> JPY; "A$" AUD, "C$" CAD, "HK$" HKD, "S$" SGD, "CHF", "CNY"/"RMB"/"yuan"
/// -> CNY. The whole string (trimmed, case-insensitive) must be the name.
pub fn currency_of(s: &str) -> Option<&'static str> {
    let s = collapse_whitespace(s.trim());
    let lookup = |name: &str| {
        CURRENCIES
            .iter()
            .find(|(n, _, _)| n.to_lowercase() == name.to_lowercase())
            .map(|(_, code, _)| *code)
    };
    lookup(&s).or_else(|| lookup(s.trim_end_matches(['.', ':', ',', ';'])))
}

/// The regex alternation of the currency names allowed at `place` (all of them when `None`),
/// longest first. `running_text`: upper-case codes case-sensitive, names case-insensitive.
fn currency_alternation(place: Option<Place>, running_text: bool) -> String {
    let mut names: Vec<&str> = CURRENCIES
        .iter()
        .filter(|(_, _, p)| match place {
            None => true,
            Some(want) => *p == want || *p == Place::Both,
        })
        .map(|(n, _, _)| *n)
        .collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.chars().count()));
    let parts: Vec<String> = names
        .iter()
        .map(|n| {
            let escaped = regex::escape(n).replace(' ', r"[ \t]+");
            let is_code = n.len() == 3 && n.chars().all(|c| c.is_ascii_uppercase());
            if running_text && is_code {
                escaped
            } else {
                format!("(?i:{escaped})")
            }
        })
        .collect();
    format!("(?:{})", parts.join("|"))
}

// ---------------------------------------------------------------------------------------------
// Patterns
// ---------------------------------------------------------------------------------------------

/// A number as printed: comma grouping, dot grouping with a decimal comma, Indian grouping, plain.
const NUM: &str = r"(?:[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]{1,3}(?:\.[0-9]{3})+(?:,[0-9]{1,2})?|[0-9]{1,2}(?:,[0-9]{2})*,[0-9]{3}(?:\.[0-9]+)?|[0-9]+(?:[.,][0-9]+)?)";

/// A number grouped with spaces ("1 234,56"), only used before a currency.
const NUM_SPACED: &str = r"(?:[0-9]{1,3}(?:[ \x{a0}\x{202f}\x{2009}][0-9]{3})+(?:,[0-9]{1,2})?)";

/// Month names and abbreviations, longest first where one is a prefix of another.
const MONTHS: &str = r"(?:january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)";

/// Top-level domains accepted for URLs printed without a scheme.
const TLDS: &str = r"(?:com|org|net|edu|gov|mil|info|biz|io|co|in|uk|de|fr|jp|cn|au|ca|ch|nl|eu|sg|hk|nz|es|ru|br|ai|app|dev|ly|tv|shop|store|online|site|tech)";

/// Every regex of this module, compiled once.
struct Patterns {
    email: Regex,
    url: Regex,
    numeric_date: Regex,
    day_month_year: Regex,
    month_day_year: Regex,
    weekday_prefix: Regex,
    time_suffix: Regex,
    phone_labeled: Regex,
    phone_plain: Regex,
    phone_dotted: Regex,
    percent: Regex,
    amount_before: Regex,
    amount_after: Regex,
    amount_paren: Regex,
    amount_bare: Regex,
    currency_start: Regex,
    currency_end: Regex,
    hint_day_first: Regex,
    hint_month_first: Regex,
}

fn build_patterns() -> Result<Patterns, regex::Error> {
    let before = currency_alternation(Some(Place::Before), true);
    let after = currency_alternation(Some(Place::After), true);
    let any = currency_alternation(None, false);
    Ok(Patterns {
        email: Regex::new(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")?,
        url: Regex::new(&format!(
            r#"(?i)\b(?:https?://[^\s<>"]+|(?:www\.)?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.{TLDS}\b(?::[0-9]{{1,5}})?(?:/[^\s<>"]*)?)"#
        ))?,
        numeric_date: Regex::new(
            r"(?P<a>[0-9]{1,4})(?P<s1>[-/.])(?P<b>[0-9]{1,2})(?P<s2>[-/.])(?P<c>[0-9]{1,4})",
        )?,
        day_month_year: Regex::new(&format!(
            r"(?i)(?P<d>[0-9]{{1,2}})(?:st|nd|rd|th)?[ \t./-]*(?:of[ \t]+)?(?P<m>{MONTHS})\b\.?[ \t./,-]*(?P<y>[0-9]{{4}}|'?[0-9]{{2}})"
        ))?,
        month_day_year: Regex::new(&format!(
            r"(?i)\b(?P<m>{MONTHS})\b\.?[ \t]*(?P<d>[0-9]{{1,2}})(?:st|nd|rd|th)?[ \t]*(?P<comma>,)?[ \t]*(?P<y>[0-9]{{4}}|'[0-9]{{2}}|[0-9]{{2}})"
        ))?,
        weekday_prefix: Regex::new(
            r"(?i)^(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|nesday|sday|urday)?\.?,?[ \t]+",
        )?,
        time_suffix: Regex::new(
            r"(?i)^(?:[ \t]*,?[ \t]*(?:at[ \t]+)?|T)[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:[ \t]*[ap]\.?m\.?)?(?:[ \t]*(?:Z|UTC|GMT|IST|[+-][0-9]{2}:?[0-9]{2}))?[ \t]*$",
        )?,
        phone_labeled: Regex::new(
            r"(?i)\b(?:telephone|phone|tel|ph|mobile|mob|cell|fax|contact)(?:[ \t]*(?:no|number|num|nr))?\.?[ \t]*[:#.\-]?[ \t]*(?P<num>\+?[0-9(][0-9() \t\-.]*[0-9])",
        )?,
        phone_plain: Regex::new(r"\+?\(?[0-9]{1,5}\)?(?:[ \-]\(?[0-9]{2,5}\)?){1,5}")?,
        phone_dotted: Regex::new(r"[0-9]{3}\.[0-9]{3}\.[0-9]{4}")?,
        percent: Regex::new(r"(?P<neg>[-−+])?(?P<num>[0-9]+(?:[.,][0-9]+)?)[ \t]?%")?,
        amount_before: Regex::new(&format!(
            r"(?P<neg>[-−][ \t]?)?(?P<cur>{before})[ \t\x{{a0}}]?(?P<neg2>[-−][ \t]?)?(?P<num>{NUM})"
        ))?,
        amount_after: Regex::new(&format!(
            r"(?P<neg>[-−][ \t]?)?(?P<num>{NUM_SPACED}|{NUM})[ \t\x{{a0}}]?(?P<cur>{after})"
        ))?,
        amount_paren: Regex::new(&format!(
            r"\([ \t]?(?:(?P<cur>{before})[ \t]?)?(?P<num>{NUM})[ \t]?(?:(?P<cur2>{after})[ \t]?)?\)"
        ))?,
        amount_bare: Regex::new(&format!(r"(?P<neg>[-−])?(?P<num>{NUM})"))?,
        currency_start: Regex::new(&format!("^{any}"))?,
        currency_end: Regex::new(&format!("{any}$"))?,
        hint_day_first: Regex::new(
            r"₹|€|£|\b(?:Rs|INR|EUR|GBP|GSTIN|GST|CGST|SGST|IGST|VAT|AUD|NZD|SGD|HKD)\b|\b(?:A|AU|NZ|S|HK)\$",
        )?,
        hint_month_first: Regex::new(r"\$|\bUSD\b")?,
    })
}

static PATTERNS: LazyLock<Option<Patterns>> = LazyLock::new(|| build_patterns().ok());

/// The compiled patterns (`None` only if a pattern failed to compile, which a test rules out).
fn patterns() -> Option<&'static Patterns> {
    PATTERNS.as_ref()
}

// ---------------------------------------------------------------------------------------------
// Small text helpers
// ---------------------------------------------------------------------------------------------

/// The char just before byte `i` (a char boundary), if any.
fn char_before(text: &str, i: usize) -> Option<char> {
    text.get(..i)?.chars().next_back()
}

/// The char at byte `i` (a char boundary), if any.
fn char_at(text: &str, i: usize) -> Option<char> {
    text.get(i..)?.chars().next()
}

/// Whether a match at `start` is not glued to what precedes it: no letter or digit right before an
/// alphanumeric start, no digit right before anything, no "12." / "12-" / "12/" / "12," before it.
fn clean_start(text: &str, start: usize) -> bool {
    let Some(prev) = char_before(text, start) else {
        return true;
    };
    let first = char_at(text, start).unwrap_or(' ');
    if prev.is_ascii_digit() || (first.is_alphanumeric() && (prev.is_alphanumeric() || prev == '_')) {
        return false;
    }
    if matches!(prev, '.' | ',' | '/' | '-') {
        let before = prev.len_utf8();
        let prev2 = start.checked_sub(before).and_then(|i| char_before(text, i));
        return !prev2.is_some_and(|c| c.is_ascii_digit());
    }
    true
}

/// Whether a match ending at `end` is not glued to what follows: no digit after it, no ".5" /
/// ",5" / "-5" / "/5" after it, and (unless `letters_ok`) no letter after an alphanumeric end.
fn clean_end(text: &str, end: usize, letters_ok: bool) -> bool {
    let Some(next) = char_at(text, end) else {
        return true;
    };
    if next.is_ascii_digit() {
        return false;
    }
    if matches!(next, '.' | ',' | '/' | '-') {
        let next2 = char_at(text, end + next.len_utf8());
        if next2.is_some_and(|c| c.is_ascii_digit()) {
            return false;
        }
    }
    let last = char_before(text, end).unwrap_or(' ');
    letters_ok || !(last.is_alphanumeric() && (next.is_alphanumeric() || next == '_'))
}

/// Whitespace runs as one space, ends trimmed.
fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// How many ASCII digits `s` holds.
fn digit_count(s: &str) -> usize {
    s.chars().filter(char::is_ascii_digit).count()
}

/// `s` without surrounding whitespace, quotes and brackets, and without trailing sentence
/// punctuation.
fn trim_answer(s: &str) -> &str {
    let s = s.trim_matches(|c: char| c.is_whitespace() || matches!(c, '"' | '“' | '”' | '`'));
    let s = s.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, '.' | ',' | ';' | ':' | '!' | '?'));
    match (s.strip_prefix('('), s.strip_suffix(')')) {
        (Some(_), Some(_)) => s.get(1..s.len() - 1).unwrap_or(s).trim(),
        _ => s,
    }
}

// ---------------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------------

/// A number in standard form.
struct Number {
    /// ASCII digits, optional '.', no sign, no grouping.
    text: String,
    value: f64,
    /// Digits after the decimal separator (0 when none was printed).
    decimals: usize,
}

/// Whether `c` groups digits when printed between them ("1 234", "1'234").
fn is_group_space(c: char) -> bool {
    matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}' | '\'')
}

/// The decimal separator of a number made of digits, '.' and ',': the last separator when both
/// occur (once); a single '.'; a single ',' not followed by exactly three digits.
fn decimal_separator(s: &str) -> Result<Option<char>, ()> {
    let dots = s.matches('.').count();
    let commas = s.matches(',').count();
    match (dots, commas) {
        (0, 0) => Ok(None),
        (1, 0) => Ok(Some('.')),
        (_, 0) | (0, _) if dots + commas > 1 => Ok(None),
        (0, 1) => {
            let after = s.rsplit(',').next().map_or(0, str::len);
            Ok((after != 3).then_some(','))
        }
        _ => {
            let last = s.chars().rev().find(|c| matches!(c, '.' | ','));
            match last {
                Some(c) if s.matches(c).count() == 1 => Ok(Some(c)),
                _ => Err(()),
            }
        }
    }
}

/// Whether the integer part's grouping is well formed: first group 1-3 digits, last group 3, the
/// ones between 3 (or 2 with commas: Indian lakh grouping).
fn grouping_ok(int_part: &str, sep: char) -> bool {
    let groups: Vec<&str> = int_part.split(sep).collect();
    let n = groups.len();
    groups.iter().enumerate().all(|(i, g)| {
        let len = g.len();
        let digits = !g.is_empty() && g.chars().all(|c| c.is_ascii_digit());
        digits
            && match i {
                0 => (1..=3).contains(&len),
                _ if i == n - 1 => len == 3,
                _ => len == 3 || (len == 2 && sep == ','),
            }
    })
}

/// Reads a printed number ("1,939.00", "1.234,56", "1 234,56", "1,00,000") into standard form.
/// Rejects leading zeros ("007", account numbers), more than 15 integer digits and odd grouping.
fn normalize_number(raw: &str) -> Option<Number> {
    let s: String = raw.chars().filter(|c| !is_group_space(*c)).collect();
    let ok_chars = s.chars().all(|c| c.is_ascii_digit() || c == '.' || c == ',');
    let digit_ends = s.starts_with(|c: char| c.is_ascii_digit()) && s.ends_with(|c: char| c.is_ascii_digit());
    if s.is_empty() || s.len() > 40 || !ok_chars || !digit_ends {
        return None;
    }
    let dec = decimal_separator(&s).ok()?;
    let (int_part, dec_part) = match dec.and_then(|c| s.rsplit_once(c)) {
        Some((i, d)) => (i, d),
        None => (s.as_str(), ""),
    };
    let group = int_part.chars().find(|c| !c.is_ascii_digit());
    if group.is_some_and(|sep| !grouping_ok(int_part, sep)) {
        return None;
    }
    let int_digits: String = int_part.chars().filter(char::is_ascii_digit).collect();
    if int_digits.is_empty() || int_digits.len() > 15 || (int_digits.len() > 1 && int_digits.starts_with('0'))
    {
        return None;
    }
    let text = if dec_part.is_empty() {
        int_digits
    } else {
        format!("{int_digits}.{dec_part}")
    };
    let value = text.parse::<f64>().ok().filter(|v| v.is_finite())?;
    Some(Number {
        text,
        value,
        decimals: dec_part.len(),
    })
}

/// An [`Value::Amount`] from a printed number, a sign and a currency.
fn amount_value(num: &str, negative: bool, currency: Option<&'static str>) -> Option<(Value, usize)> {
    let n = normalize_number(num)?;
    let text = if negative { format!("-{}", n.text) } else { n.text };
    let value = if negative { -n.value } else { n.value };
    Some((
        Value::Amount {
            value,
            text,
            currency,
        },
        n.decimals,
    ))
}

/// The whole string is one amount (with or without currency): "$4.11", "Rs. 1,939.00", "₹1,939",
/// "€ 1.234,56", "1 234,56 €", "4.11 USD", "-40.00", "Rs -40.00", "(40.00)", "1939", "1939/-".
pub fn parse_amount(s: &str) -> Option<Value> {
    let p = patterns()?;
    let mut s = s
        .trim()
        .trim_end_matches("/-")
        .trim_end_matches([',', ';', ':'])
        .trim();
    let mut negative = false;
    if let Some(inner) = s.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        negative = true;
        s = inner.trim();
    }
    let mut strip_sign = |s: &str| -> String {
        let t = s.trim_start();
        match t.strip_prefix(['-', '−']) {
            Some(rest) => {
                negative = !negative;
                rest.trim_start().to_string()
            }
            None => t.to_string(),
        }
    };
    let mut rest = strip_sign(s);
    let mut cur_before = None;
    if let Some(m) = p.currency_start.find(&rest) {
        cur_before = currency_of(m.as_str());
        rest = strip_sign(rest.get(m.end()..).unwrap_or(""));
    }
    let mut cur_after = None;
    if let Some(m) = p.currency_end.find(&rest) {
        cur_after = currency_of(m.as_str());
        rest = rest.get(..m.start()).unwrap_or("").trim_end().to_string();
    }
    let rest = rest.trim_end_matches('.');
    let currency = match (cur_before, cur_after) {
        (Some(a), Some(b)) if a != b => return None,
        (a, b) => a.or(b),
    };
    amount_value(rest, negative, currency).map(|(v, _)| v)
}

/// The whole string is one percent: "12.5%", "14,50 %", "12 percent".
fn parse_percent(s: &str) -> Option<(f64, String)> {
    let s = trim_answer(s);
    let lower = s.to_lowercase();
    let body = ["%", "per cent", "percent", "pct"]
        .iter()
        .find_map(|suffix| lower.strip_suffix(suffix))?
        .trim();
    let (negative, body) = match body.strip_prefix(['-', '−']) {
        Some(rest) => (true, rest.trim_start()),
        None => (false, body.strip_prefix('+').unwrap_or(body)),
    };
    let n = normalize_number(body)?;
    let sign = if negative { "-" } else { "" };
    let value = if negative { -n.value } else { n.value };
    Some((value, format!("{sign}{}%", n.text)))
}

// ---------------------------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------------------------

/// A four-digit year in 1900..=2100, or a two-digit one (00-69 -> 20xx, 70-99 -> 19xx).
fn year_of(s: &str) -> Option<i32> {
    let digits = s.trim_start_matches('\'');
    let y: i32 = digits.parse().ok()?;
    match digits.len() {
        4 if (1900..=2100).contains(&y) => Some(y),
        2 if y < 70 => Some(2000 + y),
        2 => Some(1900 + y),
        _ => None,
    }
}

/// The month number of a month name or abbreviation.
fn month_of(name: &str) -> Option<u32> {
    let key: String = name.chars().take(3).collect::<String>().to_lowercase();
    const ABBR: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    ABBR.iter()
        .position(|m| *m == key)
        .and_then(|i| u32::try_from(i + 1).ok())
}

/// A valid calendar date from year, month and day.
fn ymd(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

/// The reading an `a sep b sep year` date forces: `Some(DayFirst)` when `a` > 12, `Some(MonthFirst)`
/// when `b` > 12, `None` when both readings are possible.
fn forced_order(a: u32, b: u32) -> Option<DateOrder> {
    match (a > 12, b > 12) {
        (true, false) => Some(DateOrder::DayFirst),
        (false, true) => Some(DateOrder::MonthFirst),
        _ => None,
    }
}

/// A numeric date from its three parts: `yyyy sep m sep d`, or `d sep m sep yy(yy)` /
/// `m sep d sep yy(yy)` read in `order` unless a part above 12 forces the order.
fn numeric_date(a: &str, b: &str, c: &str, sep: &str, order: DateOrder) -> Option<NaiveDate> {
    let (na, nb): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
    if a.len() == 4 {
        if c.len() > 2 {
            return None;
        }
        let d: u32 = c.parse().ok()?;
        return ymd(year_of(a)?, nb, d);
    }
    let dotted_short = sep == "." && c.len() == 2 && (a.len() != 2 || b.len() != 2);
    if a.len() > 2 || !(c.len() == 2 || c.len() == 4) || dotted_short {
        return None;
    }
    let y = year_of(c)?;
    match forced_order(na, nb).unwrap_or(order) {
        DateOrder::DayFirst => ymd(y, nb, na),
        DateOrder::MonthFirst => ymd(y, na, nb),
    }
}

/// A candidate value with its byte range and a rank that breaks ties between equally long ones.
struct Cand {
    start: usize,
    end: usize,
    value: Value,
    rank: u8,
}

/// Dates written with digits only: "31/12/2017", "15-10-2015", "03.08.2014", "2014-08-03",
/// "2017/12/31", "12/31/17".
fn numeric_dates(p: &Patterns, text: &str, order: DateOrder, out: &mut Vec<Cand>) {
    for caps in p.numeric_date.captures_iter(text) {
        let (Some(all), Some(a), Some(b), Some(c)) =
            (caps.get(0), caps.name("a"), caps.name("b"), caps.name("c"))
        else {
            continue;
        };
        let (s1, s2) = (
            caps.name("s1").map(|m| m.as_str()),
            caps.name("s2").map(|m| m.as_str()),
        );
        if s1 != s2 || !clean_start(text, all.start()) || !clean_end(text, all.end(), true) {
            continue;
        }
        let sep = s1.unwrap_or("");
        if let Some(d) = numeric_date(a.as_str(), b.as_str(), c.as_str(), sep, order) {
            out.push(Cand {
                start: all.start(),
                end: all.end(),
                value: Value::Date(d),
                rank: 2,
            });
        }
    }
}

/// A date with a month name from named captures `d`, `m`, `y`.
fn named_date(caps: &Captures<'_>) -> Option<NaiveDate> {
    let d: u32 = caps.name("d")?.as_str().parse().ok()?;
    let m = month_of(caps.name("m")?.as_str())?;
    let y = year_of(caps.name("y")?.as_str())?;
    ymd(y, m, d)
}

/// Dates with a month name: "3 August 2014", "3rd Aug 2014", "31-Dec-2017", "31 Dec 17",
/// "August 3 , 2014", "Aug. 3 2014", "Dec 31, 2017".
fn named_dates(p: &Patterns, text: &str, out: &mut Vec<Cand>) {
    for (re, month_first) in [(&p.day_month_year, false), (&p.month_day_year, true)] {
        for caps in re.captures_iter(text) {
            let Some(all) = caps.get(0) else { continue };
            let short_year = caps.name("y").is_some_and(|y| y.as_str().len() == 2);
            if month_first && short_year && caps.name("comma").is_none() {
                continue;
            }
            if !clean_start(text, all.start()) || !clean_end(text, all.end(), true) {
                continue;
            }
            if let Some(d) = named_date(&caps) {
                out.push(Cand {
                    start: all.start(),
                    end: all.end(),
                    value: Value::Date(d),
                    rank: 2,
                });
            }
        }
    }
}

/// Every date candidate in `text`.
fn date_candidates(p: &Patterns, text: &str, order: DateOrder) -> Vec<Cand> {
    let mut out = Vec::new();
    numeric_dates(p, text, order, &mut out);
    named_dates(p, text, &mut out);
    out
}

/// The whole string (trimmed, trailing punctuation ok) is one date: "August 3 , 2014",
/// "3rd Aug 2014", "03.08.2014", "2014-08-03", "31-Dec-2017", "12/31/17", ... A weekday before it
/// ("Sunday, August 3, 2014") and a time after it ("31/12/2017 14:05", "2014-08-03T10:00:00Z") are
/// allowed. Ambiguous numeric dates are read in `order`.
pub fn parse_date(s: &str, order: DateOrder) -> Option<NaiveDate> {
    let p = patterns()?;
    let s = trim_answer(s);
    let s = match p.weekday_prefix.find(s) {
        Some(m) => s.get(m.end()..).unwrap_or(s),
        None => s,
    };
    let whole = |c: &Cand| {
        c.start == 0 && (c.end == s.len() || s.get(c.end..).is_some_and(|rest| p.time_suffix.is_match(rest)))
    };
    let mut cands: Vec<Cand> = date_candidates(p, s, order).into_iter().filter(whole).collect();
    cands.sort_by_key(|c| std::cmp::Reverse(c.end));
    match cands.first().map(|c| &c.value) {
        Some(Value::Date(d)) => Some(*d),
        _ => None,
    }
}

/// The day/month order of a document, decided in three steps:
///
/// 1. its unambiguous numeric dates vote: a date whose first number is above 12 (31/12/2017) votes
///    day-first, one whose second number is above 12 (12/31/2017) votes month-first; the majority
///    wins (year-first dates such as 2017-12-31 do not vote);
/// 2. on no votes or a tie, locale hints in the text: ₹, Rs, INR, €, EUR, £, GBP, GST/GSTIN/CGST/
///    SGST/IGST, VAT (and A$, NZ$, S$, HK$, AUD, NZD, SGD, HKD) mean day-first; else "$" or USD
///    means month-first;
/// 3. otherwise day-first.
pub fn date_order(texts: &[&str]) -> DateOrder {
    let Some(p) = patterns() else {
        return DateOrder::DayFirst;
    };
    let (mut day_first, mut month_first) = (0usize, 0usize);
    for text in texts {
        for caps in p.numeric_date.captures_iter(text) {
            match date_vote(&caps, text) {
                Some(DateOrder::DayFirst) => day_first += 1,
                Some(DateOrder::MonthFirst) => month_first += 1,
                None => {}
            }
        }
    }
    if day_first != month_first {
        return if day_first > month_first {
            DateOrder::DayFirst
        } else {
            DateOrder::MonthFirst
        };
    }
    if texts.iter().any(|t| p.hint_day_first.is_match(t)) {
        DateOrder::DayFirst
    } else if texts.iter().any(|t| p.hint_month_first.is_match(t)) {
        DateOrder::MonthFirst
    } else {
        DateOrder::DayFirst
    }
}

/// The order an unambiguous `d/m/y` or `m/d/y` date votes for, if any.
fn date_vote(caps: &Captures<'_>, text: &str) -> Option<DateOrder> {
    let all = caps.get(0)?;
    let (a, b, c) = (
        caps.name("a")?.as_str(),
        caps.name("b")?.as_str(),
        caps.name("c")?.as_str(),
    );
    let sep = caps.name("s1")?.as_str();
    if Some(sep) != caps.name("s2").map(|m| m.as_str()) || a.len() > 2 {
        return None;
    }
    if !clean_start(text, all.start()) || !clean_end(text, all.end(), true) {
        return None;
    }
    let forced = forced_order(a.parse().ok()?, b.parse().ok()?)?;
    numeric_date(a, b, c, sep, forced).map(|_| forced)
}

// ---------------------------------------------------------------------------------------------
// Amounts, percents, phones, e-mails, URLs
// ---------------------------------------------------------------------------------------------

/// Whether a capture group matched (a sign).
fn has(caps: &Captures<'_>, name: &str) -> bool {
    caps.name(name).is_some()
}

/// Amounts with a currency before or after the number, in parentheses (negative), or bare with
/// exactly two decimals.
fn amount_candidates(p: &Patterns, text: &str, out: &mut Vec<Cand>) {
    let forms: [(&Regex, u8); 4] = [
        (&p.amount_before, 0),
        (&p.amount_after, 1),
        (&p.amount_paren, 2),
        (&p.amount_bare, 3),
    ];
    for (re, form) in forms {
        for caps in re.captures_iter(text) {
            if let Some(c) = amount_candidate(&caps, text, form) {
                out.push(c);
            }
        }
    }
}

/// One amount candidate from a match of one of the four amount forms.
fn amount_candidate(caps: &Captures<'_>, text: &str, form: u8) -> Option<Cand> {
    let all = caps.get(0)?;
    let letters_ok = form == 2;
    let mut start = all.start();
    let mut lead_sign = has(caps, "neg");
    if !clean_start(text, start) {
        // A '-' glued to what precedes it ("1939/- INR 5") is not a sign: try without it.
        start = caps.name("neg").filter(|_| form != 2)?.end();
        lead_sign = false;
    }
    if !clean_start(text, start) || !clean_end(text, all.end(), letters_ok) {
        return None;
    }
    let currency = ["cur", "cur2"]
        .iter()
        .find_map(|n| caps.name(n))
        .and_then(|m| currency_of(m.as_str()));
    let negative = form == 2 || (lead_sign != has(caps, "neg2"));
    let (value, decimals) = amount_value(caps.name("num")?.as_str(), negative, currency)?;
    if currency.is_none() && decimals != 2 {
        return None;
    }
    Some(Cand {
        start,
        end: all.end(),
        value,
        rank: 5,
    })
}

/// Percents: "14.50%", "12 %".
fn percent_candidates(p: &Patterns, text: &str, out: &mut Vec<Cand>) {
    for caps in p.percent.captures_iter(text) {
        let Some(all) = caps.get(0) else { continue };
        if !clean_start(text, all.start()) {
            continue;
        }
        if let Some((value, pct)) = parse_percent(all.as_str()) {
            out.push(Cand {
                start: all.start(),
                end: all.end(),
                value: Value::Percent { value, text: pct },
                rank: 4,
            });
        }
    }
}

/// Byte ranges of the groups of `s` between the chars in `seps` (relative to `s`).
fn groups_of(s: &str, seps: &[char]) -> Vec<(usize, usize)> {
    groups_of_by(s, |c| seps.contains(&c))
}

/// Whether groups of digits without a label read as a phone number: with '+', 8-15 digits; with
/// '-' or parentheses, 10-13 digits; spaces only, 10-12 digits in 2-4 groups of 3+ digits, the
/// last of 4+ ("1800 208 9898", "98450 12345").
fn plain_phone_ok(s: &str, groups: &[&str]) -> bool {
    let digits = digit_count(s);
    if s.starts_with('+') {
        return (8..=15).contains(&digits);
    }
    if s.contains(['-', '(', ')']) {
        return (10..=13).contains(&digits);
    }
    let sizes: Vec<usize> = groups.iter().map(|g| digit_count(g)).collect();
    (10..=12).contains(&digits)
        && (2..=4).contains(&sizes.len())
        && sizes.iter().all(|n| *n >= 3)
        && sizes.last().is_some_and(|n| *n >= 4)
}

/// Phone numbers: after a label ("Phone: 8756390642", "Tel. No.: +91 80 4123 4567"), or groups of
/// digits that read as one ("1800 208 9898", "+1 (800) 555-1234", "800.555.1234").
fn phone_candidates(p: &Patterns, text: &str, out: &mut Vec<Cand>) {
    for caps in p.phone_labeled.captures_iter(text) {
        if let Some(num) = caps.name("num") {
            labeled_phone(text, num.start(), num.as_str(), out);
        }
    }
    for m in p.phone_plain.find_iter(text) {
        plain_phone(text, m.start(), m.as_str(), out);
    }
    for m in p.phone_dotted.find_iter(text) {
        if clean_start(text, m.start()) && clean_end(text, m.end(), false) {
            out.push(Cand {
                start: m.start(),
                end: m.end(),
                value: Value::Phone(m.as_str().to_string()),
                rank: 3,
            });
        }
    }
}

/// A phone number after a label: the groups up to the tenth digit, 7-15 digits in all.
fn labeled_phone(text: &str, start: usize, s: &str, out: &mut Vec<Cand>) {
    let mut digits = 0;
    let mut end = 0;
    for (gs, ge) in groups_of(s, &[' ', '\t']) {
        let g = s.get(gs..ge).unwrap_or("");
        if digits >= 10 || digit_count(g) == 0 {
            break;
        }
        digits += digit_count(g);
        end = ge;
    }
    let number = s.get(..end).unwrap_or("");
    if (7..=15).contains(&digits) && clean_end(text, start + end, false) {
        let value = Value::Phone(collapse_whitespace(number));
        out.push(Cand {
            start,
            end: start + end,
            value,
            rank: 3,
        });
    }
}

/// A phone number without a label: the longest run of the matched groups that reads as one.
fn plain_phone(text: &str, start: usize, s: &str, out: &mut Vec<Cand>) {
    if !clean_start(text, start) {
        return;
    }
    let spans = groups_of(s, &[' ', '-']);
    for k in (2..=spans.len()).rev() {
        let end = spans[k - 1].1;
        let number = s.get(..end).unwrap_or("");
        let groups: Vec<&str> = spans[..k].iter().filter_map(|(a, b)| s.get(*a..*b)).collect();
        if plain_phone_ok(number, &groups) && clean_end(text, start + end, false) {
            let value = Value::Phone(collapse_whitespace(number));
            out.push(Cand {
                start,
                end: start + end,
                value,
                rank: 3,
            });
            return;
        }
    }
}

/// E-mail addresses, lower-cased.
fn email_candidates(p: &Patterns, text: &str, out: &mut Vec<Cand>) {
    for m in p.email.find_iter(text) {
        let s = m.as_str().trim_end_matches(['.', '-']);
        let s_start = m.start() + (s.len() - s.trim_start_matches('.').len());
        let s = s.trim_start_matches('.');
        if !s.is_empty() && s.contains('@') {
            let value = Value::Email(s.to_lowercase());
            out.push(Cand {
                start: s_start,
                end: s_start + s.len(),
                value,
                rank: 0,
            });
        }
    }
}

/// A URL in standard form: no scheme, lower-cased host, the rest as written.
fn standard_url(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let skip = ["https://", "http://"]
        .iter()
        .find(|p| lower.starts_with(*p))
        .map_or(0, |p| p.len());
    let rest = s.get(skip..).unwrap_or(s);
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (host, path) = rest.split_at(host_end);
    format!("{}{path}", host.to_lowercase())
}

/// URLs with a scheme, or a host with a known top-level domain ("aws.amazon.com/contact-us/").
fn url_candidates(p: &Patterns, text: &str, out: &mut Vec<Cand>) {
    for m in p.url.find_iter(text) {
        let trail = |c: char| {
            matches!(
                c,
                '.' | ',' | ';' | ':' | '!' | '?' | ')' | ']' | '}' | '\'' | '"'
            )
        };
        let s = m.as_str().trim_end_matches(trail);
        let prev = char_before(text, m.start());
        if s.is_empty() || prev.is_some_and(|c| c == '@' || c == '.' || c.is_alphanumeric()) {
            continue;
        }
        let value = Value::Url(standard_url(s));
        out.push(Cand {
            start: m.start(),
            end: m.start() + s.len(),
            value,
            rank: 1,
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Identifiers
// ---------------------------------------------------------------------------------------------

/// Units and ordinals that make "16GB", "500ml", "3rd", "10AM" a measure, not an identifier.
const UNITS: &[&str] = &[
    "st", "nd", "rd", "th", "kg", "g", "gm", "gms", "mg", "lb", "lbs", "oz", "ml", "l", "ltr", "cm", "mm",
    "m", "km", "in", "ft", "gb", "mb", "kb", "tb", "pcs", "pc", "nos", "x", "hrs", "hr", "h", "min", "mins",
    "sec", "s", "am", "pm", "w", "kw", "kwh", "v", "mah", "ghz", "mhz", "hz", "mp", "px", "days", "yrs",
];

/// Whether `s` is a number followed by a unit ("16GB", "2.5kg", "15th").
fn is_measure(s: &str) -> bool {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    !num.is_empty() && !unit.is_empty() && UNITS.contains(&unit.to_ascii_lowercase().as_str())
}

/// Whether `s` is made of digits and '.'/',' only, with at least one separator (a number).
fn is_grouped_number(s: &str) -> bool {
    s.contains(['.', ',']) && s.chars().all(|c| c.is_ascii_digit() || c == '.' || c == ',')
}

/// Whether `s` is a plain year (1900-2100).
fn is_year(s: &str) -> bool {
    s.len() == 4 && s.parse::<u32>().is_ok_and(|y| (1900..=2100).contains(&y))
}

/// Whether a token reads as an identifier: 4+ chars with a digit, not a measure or a number; a
/// token without letters needs 5+ digits ("42183017") or a leading '#' and 3+ digits.
fn is_identifier(tok: &str) -> bool {
    let hash = tok.starts_with('#');
    let body = tok.trim_start_matches('#');
    if tok.chars().count() < 4 || digit_count(body) == 0 || is_measure(body) || is_grouped_number(body) {
        return false;
    }
    if body.chars().any(char::is_alphabetic) {
        return true;
    }
    digit_count(body) >= 5 || (hash && digit_count(body) >= 3)
}

/// Whether a token after "#" or "No." reads as an identifier: 3+ chars with a digit, not a year,
/// a measure or a number.
fn is_labeled_identifier(tok: &str) -> bool {
    tok.chars().count() >= 3
        && digit_count(tok) > 0
        && !tok.starts_with('#')
        && !is_year(tok)
        && !is_measure(tok)
        && !is_grouped_number(tok)
}

/// Whether a token is a number label ("No.", "No", "Nr.").
fn is_number_label(tok: &str) -> bool {
    matches!(
        tok.to_ascii_lowercase().as_str(),
        "no" | "no." | "nr" | "nr." | "num" | "num."
    )
}

/// Whether `c` ends a token.
fn is_token_break(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            ',' | ';' | ':' | '(' | ')' | '[' | ']' | '{' | '}' | '<' | '>' | '"' | '|' | '“' | '”'
        )
}

/// Tokens of `text[from..to]` as absolute byte ranges, stray punctuation trimmed off their ends.
fn tokens(text: &str, from: usize, to: usize, out: &mut Vec<(usize, usize)>) {
    let Some(part) = text.get(from..to) else { return };
    let edge = |c: char| {
        matches!(
            c,
            '.' | '-' | '/' | '*' | '\'' | '!' | '?' | '‘' | '’' | '`' | '='
        )
    };
    for (gs, ge) in groups_of_by(part, is_token_break) {
        let raw = part.get(gs..ge).unwrap_or("");
        let keep_dot = is_number_label(raw);
        let trimmed_start = raw.trim_start_matches(edge);
        let trimmed = if keep_dot {
            trimmed_start
        } else {
            trimmed_start.trim_end_matches(edge)
        };
        if !trimmed.is_empty() {
            let s = from + gs + (raw.len() - trimmed_start.len());
            out.push((s, s + trimmed.len()));
        }
    }
}

/// Byte ranges of the runs of `s` between chars for which `brk` holds.
fn groups_of_by(s: &str, brk: impl Fn(char) -> bool) -> Vec<(usize, usize)> {
    let mut groups = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        match (brk(c), start) {
            (true, Some(st)) => {
                groups.push((st, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(st) = start {
        groups.push((st, s.len()));
    }
    groups
}

/// Identifiers in the parts of `text` that no other value covers. A lone "#" printed right before
/// a token, or separated from it by one space, joins it ("# BLR_WFLD20151000982590" ->
/// "#BLR_WFLD20151000982590"); "No." before a token lets a shorter token count ("No. 123").
fn identifiers(text: &str, taken: &[(usize, usize)]) -> Vec<Found> {
    let mut toks = Vec::new();
    let mut from = 0;
    for &(s, e) in taken.iter().chain(std::iter::once(&(text.len(), text.len()))) {
        tokens(text, from, s, &mut toks);
        from = e;
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let (s, e) = toks[i];
        let tok = text.get(s..e).unwrap_or("");
        if let Some(found) = joined_identifier(text, tok, s, e, toks.get(i + 1).copied()) {
            out.push(found);
            i += 2;
            continue;
        }
        if let Some(found) = single_identifier(tok, s, e) {
            out.push(found);
        }
        i += 1;
    }
    out
}

/// "# ID" or "No. ID" as one identifier, if `tok` is such a label and the next token fits.
fn joined_identifier(
    text: &str,
    tok: &str,
    s: usize,
    e: usize,
    next: Option<(usize, usize)>,
) -> Option<Found> {
    let (ns, ne) = next?;
    let between = text.get(e..ns)?;
    let next_tok = text.get(ns..ne)?;
    let fits = is_identifier(next_tok) || is_labeled_identifier(next_tok);
    if tok == "#" && between == " " && fits && !next_tok.starts_with('#') {
        let value = Value::Identifier(format!("#{next_tok}"));
        return Some(Found {
            value,
            start: s,
            end: ne,
        });
    }
    let short_gap = between.len() <= 3 && between.chars().all(|c| c.is_whitespace() || c == ':' || c == '.');
    if is_number_label(tok) && short_gap && fits {
        return Some(Found {
            value: Value::Identifier(next_tok.to_string()),
            start: ns,
            end: ne,
        });
    }
    None
}

/// One token as an identifier ("No.12345" gives "12345").
fn single_identifier(tok: &str, s: usize, e: usize) -> Option<Found> {
    let lower = tok.to_ascii_lowercase();
    if let Some(rest) = ["no.", "nr."].iter().find_map(|p| lower.strip_prefix(p)) {
        let start = e - rest.len();
        let body = tok.get(tok.len() - rest.len()..)?;
        if is_labeled_identifier(body) || is_identifier(body) {
            return Some(Found {
                value: Value::Identifier(body.to_string()),
                start,
                end: e,
            });
        }
    }
    is_identifier(tok).then(|| Found {
        value: Value::Identifier(tok.to_string()),
        start: s,
        end: e,
    })
}

// ---------------------------------------------------------------------------------------------
// find
// ---------------------------------------------------------------------------------------------

/// Non-overlapping candidates, the longest first (ties: e-mail, URL, date, phone, percent, amount;
/// then leftmost).
fn select(mut cands: Vec<Cand>) -> Vec<Cand> {
    cands.retain(|c| c.start < c.end);
    cands.sort_by_key(|c| (std::cmp::Reverse(c.end - c.start), c.rank, c.start));
    let mut taken: BTreeMap<usize, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for c in cands {
        let overlaps = taken
            .range(..c.end)
            .next_back()
            .is_some_and(|(_, &end)| end > c.start);
        if !overlaps {
            taken.insert(c.start, c.end);
            out.push(c);
        }
    }
    out
}

/// Every typed value in `text`, left to right, non-overlapping. The longest, most specific reading
/// wins: "August 3 , 2014" is one Date, "$4.11" an Amount in USD, "Rs 1939" an Amount in INR,
/// "1800 208 9898" a Phone, "aws.amazon.com/contact-us/" a Url. Numbers without a currency are
/// amounts only with exactly two decimals ("278.61"); a bare year or a small integer is nothing.
/// Identifiers are looked for in what is left.
pub fn find(text: &str, order: DateOrder) -> Vec<Found> {
    let Some(p) = patterns() else {
        return Vec::new();
    };
    let mut cands = date_candidates(p, text, order);
    email_candidates(p, text, &mut cands);
    url_candidates(p, text, &mut cands);
    phone_candidates(p, text, &mut cands);
    percent_candidates(p, text, &mut cands);
    amount_candidates(p, text, &mut cands);
    let mut found: Vec<Found> = select(cands)
        .into_iter()
        .map(|c| Found {
            value: c.value,
            start: c.start,
            end: c.end,
        })
        .collect();
    found.sort_by_key(|f| f.start);
    let taken: Vec<(usize, usize)> = found.iter().map(|f| (f.start, f.end)).collect();
    found.extend(identifiers(text, &taken));
    found.sort_by_key(|f| f.start);
    found
}

// ---------------------------------------------------------------------------------------------
// same_value
// ---------------------------------------------------------------------------------------------

/// The dates `s` can be read as: one when unambiguous, two for an ambiguous numeric date.
fn date_readings(s: &str) -> Vec<NaiveDate> {
    let mut out: Vec<NaiveDate> = [DateOrder::DayFirst, DateOrder::MonthFirst]
        .iter()
        .filter_map(|o| parse_date(s, *o))
        .collect();
    out.dedup();
    out
}

/// Whether two numbers are equal up to rounding noise.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Whether `c` is trimmed off the ends of a text answer before comparing.
fn is_trimmed_punct(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '.' | ','
                | ';'
                | ':'
                | '!'
                | '?'
                | '\''
                | '"'
                | '('
                | ')'
                | '['
                | ']'
                | '{'
                | '}'
                | '#'
                | '*'
                | '-'
                | '_'
                | '`'
        )
        || matches!(c, '“' | '”' | '‘' | '’' | '«' | '»' | '。' | '、')
}

/// A text answer for comparison: lower-cased, ends trimmed of spaces and punctuation, inner
/// whitespace collapsed.
fn normalize_text(s: &str) -> String {
    collapse_whitespace(s.trim_matches(is_trimmed_punct)).to_lowercase()
}

/// Whether a prediction and a gold answer are the same value:
/// - both dates (any formats): equal; an ambiguous numeric date matches with either reading;
/// - both percents: equal values;
/// - both currencies: equal codes ("$" == "USD");
/// - both amounts: equal values, currencies compared only when both have one;
/// - else case-insensitive equality after trimming spaces and punctuation at the ends and
///   collapsing inner whitespace ("#BLR_WFLD20151000982590" == "# BLR_WFLD20151000982590").
pub fn same_value(pred: &str, gold: &str) -> bool {
    let (pd, gd) = (date_readings(pred), date_readings(gold));
    if !pd.is_empty() && !gd.is_empty() {
        return pd.iter().any(|d| gd.contains(d));
    }
    if let (Some((a, _)), Some((b, _))) = (parse_percent(pred), parse_percent(gold)) {
        return close(a, b);
    }
    if let (Some(a), Some(b)) = (currency_of(pred), currency_of(gold)) {
        return a == b;
    }
    let amounts = (parse_amount(pred), parse_amount(gold));
    if let (
        Some(Value::Amount {
            value: a,
            currency: ca,
            ..
        }),
        Some(Value::Amount {
            value: b,
            currency: cb,
            ..
        }),
    ) = amounts
    {
        let currencies_ok = match (ca, cb) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        };
        return close(a, b) && currencies_ok;
    }
    normalize_text(pred) == normalize_text(gold)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn amount(s: &str) -> (f64, String, Option<&'static str>) {
        match parse_amount(s) {
            Some(Value::Amount {
                value,
                text,
                currency,
            }) => (value, text, currency),
            other => panic!("{s:?}: {other:?}"),
        }
    }

    fn found_in(text: &str) -> Vec<(Value, &str)> {
        find(text, DateOrder::DayFirst)
            .into_iter()
            .map(|f| (f.value, &text[f.start..f.end]))
            .collect()
    }

    #[test]
    fn patterns_compile() {
        assert!(build_patterns().is_ok(), "{:?}", build_patterns().err());
    }

    #[test]
    fn dates_in_many_forms() {
        let o = DateOrder::DayFirst;
        let aug3 = Some(d(2014, 8, 3));
        for s in [
            "August 3 , 2014",
            "Aug 3, 2014",
            "Aug. 3 2014",
            "3 August 2014",
            "3rd Aug 2014",
            "03.08.2014",
            "2014-08-03",
        ] {
            assert_eq!(parse_date(s, o), aug3, "{s}");
        }
        let dec31 = Some(d(2017, 12, 31));
        for s in [
            "31/12/2017",
            "2017/12/31",
            "31-Dec-2017",
            "Dec 31, 2017",
            "31 Dec 17",
            "12/31/17",
        ] {
            assert_eq!(parse_date(s, o), dec31, "{s}");
        }
        assert_eq!(parse_date("15-10-2015", o), Some(d(2015, 10, 15)));
        assert_eq!(parse_date("August 3, 2014.", o), aug3);
        assert_eq!(parse_date("Sunday, August 3, 2014", o), aug3);
        assert_eq!(parse_date("31/12/2017 14:05", o), dec31);
        assert_eq!(parse_date("2014-08-03T10:00:00Z", o), aug3);
    }

    #[test]
    fn date_order_and_rejections() {
        assert_eq!(parse_date("03/08/2014", DateOrder::DayFirst), Some(d(2014, 8, 3)));
        assert_eq!(
            parse_date("03/08/2014", DateOrder::MonthFirst),
            Some(d(2014, 3, 8))
        );
        assert_eq!(parse_date("12/31/17", DateOrder::DayFirst), Some(d(2017, 12, 31)));
        assert_eq!(
            parse_date("31 Dec 99", DateOrder::DayFirst),
            Some(d(1999, 12, 31))
        );
        for s in [
            "31/02/2017",
            "2014",
            "16",
            "1/2/1850",
            "2014-13-01",
            "August 2014",
            "03/08/2014 and more",
            "",
            "31.12.2017.5",
        ] {
            assert_eq!(parse_date(s, DateOrder::DayFirst), None, "{s}");
        }
    }

    #[test]
    fn amounts_in_many_forms() {
        let cases: [(&str, f64, &str, Option<&str>); 18] = [
            ("$4.11", 4.11, "4.11", Some("USD")),
            ("$ 4.11", 4.11, "4.11", Some("USD")),
            ("US$ 4.11", 4.11, "4.11", Some("USD")),
            ("4.11 USD", 4.11, "4.11", Some("USD")),
            ("USD 4.11", 4.11, "4.11", Some("USD")),
            ("Rs 1939", 1939.0, "1939", Some("INR")),
            ("Rs. 1,939.00", 1939.0, "1939.00", Some("INR")),
            ("₹1,939", 1939.0, "1939", Some("INR")),
            ("INR 1939.00", 1939.0, "1939.00", Some("INR")),
            ("€ 1.234,56", 1234.56, "1234.56", Some("EUR")),
            ("1 234,56 €", 1234.56, "1234.56", Some("EUR")),
            ("4,11 €", 4.11, "4.11", Some("EUR")),
            ("-40.00", -40.0, "-40.00", None),
            ("Rs -40.00", -40.0, "-40.00", Some("INR")),
            ("(40.00)", -40.0, "-40.00", None),
            ("$43,456.78", 43456.78, "43456.78", Some("USD")),
            ("1939", 1939.0, "1939", None),
            ("1,00,000.50", 100000.5, "100000.50", None),
        ];
        for (s, value, text, cur) in cases {
            let (v, t, c) = amount(s);
            assert!(close(v, value), "{s}: {v}");
            assert_eq!((t.as_str(), c), (text, cur), "{s}");
        }
        for s in [
            "",
            "abc",
            "$",
            "1.2.3",
            "12,34,5",
            "4.11 USD EUR",
            "007",
            "03.08.2014",
        ] {
            assert_eq!(parse_amount(s), None, "{s}");
        }
    }

    #[test]
    fn currencies() {
        let cases = [
            ("$", "USD"),
            ("US$", "USD"),
            ("USD", "USD"),
            ("US Dollars", "USD"),
            ("dollars", "USD"),
            ("Rs", "INR"),
            ("Rs.", "INR"),
            ("₹", "INR"),
            ("INR", "INR"),
            ("rupees", "INR"),
            ("€", "EUR"),
            ("EUR", "EUR"),
            ("euro", "EUR"),
            ("£", "GBP"),
            ("GBP", "GBP"),
            ("pounds sterling", "GBP"),
            ("¥", "JPY"),
            ("JPY", "JPY"),
            ("yen", "JPY"),
            ("A$", "AUD"),
            ("C$", "CAD"),
            ("HK$", "HKD"),
            ("S$", "SGD"),
            ("CHF", "CHF"),
            ("CNY", "CNY"),
            ("RMB", "CNY"),
            ("yuan", "CNY"),
        ];
        for (s, code) in cases {
            assert_eq!(currency_of(s), Some(code), "{s}");
        }
        assert_eq!(currency_of("dollar bill"), None);
        assert_eq!(currency_of(""), None);
    }

    #[test]
    fn standard_forms() {
        assert_eq!(Value::Date(d(2014, 8, 3)).standard(), "2014-08-03");
        assert_eq!(Value::Currency("USD").standard(), "USD");
        assert_eq!(
            parse_amount("Rs. 1,939.00").map(|v| v.standard()),
            Some("1939.00".into())
        );
        assert_eq!(parse_amount("$4.11").map(|v| v.kind()), Some(Kind::Amount));
        assert_eq!(parse_percent("12.5%").map(|p| p.1), Some("12.5%".into()));
        assert_eq!(parse_percent("14,50 %").map(|p| p.1), Some("14.50%".into()));
    }

    #[test]
    fn find_invoice_date() {
        let text = "Invoice Date: August 3 , 2014";
        let f = find(text, DateOrder::DayFirst);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].value, Value::Date(d(2014, 8, 3)));
        assert_eq!(&text[f[0].start..f[0].end], "August 3 , 2014");
    }

    #[test]
    fn find_date_and_amount() {
        let f = found_in("TOTAL AMOUNT DUE ON August 3 , 2014 $4.11");
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(f[0], (Value::Date(d(2014, 8, 3)), "August 3 , 2014"));
        let amount = Value::Amount {
            value: 4.11,
            text: "4.11".into(),
            currency: Some("USD"),
        };
        assert_eq!(f[1], (amount, "$4.11"));
    }

    #[test]
    fn find_hash_identifier() {
        for text in [
            "Invoice No : # BLR_WFLD20151000982590",
            "Invoice No : #BLR_WFLD20151000982590",
        ] {
            let f = found_in(text);
            assert_eq!(f.len(), 1, "{f:?}");
            assert_eq!(f[0].0, Value::Identifier("#BLR_WFLD20151000982590".into()));
        }
        let f = found_in("Invoice No. 12345 Order ID OD304175096047380001 GSTIN 06AABCO6063D1ZQ");
        let ids: Vec<String> = f.iter().map(|(v, _)| v.standard()).collect();
        assert_eq!(ids, ["12345", "OD304175096047380001", "06AABCO6063D1ZQ"]);
    }

    #[test]
    fn find_identifiers_not_years_or_small_numbers() {
        let f = found_in(
            "Account 296664039561 ref 42183017 IBZY2087 00030340067212 year 2014 qty 16 1939 16GB 3rd",
        );
        let ids: Vec<String> = f.iter().map(|(v, _)| v.standard()).collect();
        assert_eq!(ids, ["296664039561", "42183017", "IBZY2087", "00030340067212"]);
        assert!(f.iter().all(|(v, _)| v.kind() == Kind::Identifier));
    }

    #[test]
    fn find_order_date() {
        let f = found_in("Order Date: 15-10-2015");
        assert_eq!(f, vec![(Value::Date(d(2015, 10, 15)), "15-10-2015")]);
        let f = found_in("Date 31/12/2017 14:05");
        assert_eq!(f, vec![(Value::Date(d(2017, 12, 31)), "31/12/2017")]);
        let f = find("Date 03/08/2014", DateOrder::MonthFirst);
        assert_eq!(f[0].value, Value::Date(d(2014, 3, 8)));
    }

    #[test]
    fn find_rupees() {
        let f = found_in("Grand Total Rs 1939");
        let amount = Value::Amount {
            value: 1939.0,
            text: "1939".into(),
            currency: Some("INR"),
        };
        assert_eq!(f, vec![(amount, "Rs 1939")]);
    }

    #[test]
    fn find_table_row() {
        let f = found_in("Memory cards SanDisk Ultra 16 GB MicroSDHC Class 1 278.61 14.50% 40.39 319.00");
        let got: Vec<(Kind, String)> = f.iter().map(|(v, _)| (v.kind(), v.standard())).collect();
        let want = [
            (Kind::Amount, "278.61"),
            (Kind::Percent, "14.50%"),
            (Kind::Amount, "40.39"),
            (Kind::Amount, "319.00"),
        ];
        let want: Vec<(Kind, String)> = want.iter().map(|(k, s)| (*k, s.to_string())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn find_phones() {
        assert_eq!(
            found_in("Phone: 8756390642"),
            vec![(Value::Phone("8756390642".into()), "8756390642")]
        );
        assert_eq!(
            found_in("Call 1800 208 9898 now"),
            vec![(Value::Phone("1800 208 9898".into()), "1800 208 9898")]
        );
        let f = found_in("Tel. No.: +91 80 4123 4567, fax 800.555.1234");
        let phones: Vec<String> = f.iter().map(|(v, _)| v.standard()).collect();
        assert_eq!(phones, ["+91 80 4123 4567", "800.555.1234"]);
        let f = found_in("ref 8756390642");
        assert_eq!(f[0].0, Value::Identifier("8756390642".into()));
    }

    #[test]
    fn find_url_and_email() {
        let f = found_in("visit aws.amazon.com/contact-us/");
        assert_eq!(
            f,
            vec![(
                Value::Url("aws.amazon.com/contact-us/".into()),
                "aws.amazon.com/contact-us/"
            )]
        );
        let f = found_in("Email: contactus@oyorooms.com");
        assert_eq!(
            f,
            vec![(
                Value::Email("contactus@oyorooms.com".into()),
                "contactus@oyorooms.com"
            )]
        );
        let f = found_in("See https://WWW.Flipkart.com/helpcentre.");
        assert_eq!(f[0].0, Value::Url("www.flipkart.com/helpcentre".into()));
    }

    #[test]
    fn find_amount_forms() {
        let f = found_in("Sub 4,11 € and € 1.234,56 and (40.00) and Rs -40.00 and 4.11 USD");
        let got: Vec<String> = f.iter().map(|(v, _)| v.standard()).collect();
        assert_eq!(got, ["4.11", "1234.56", "-40.00", "-40.00", "4.11"]);
        assert!(found_in("Qty 2 year 2014 total 1939").is_empty());
        let f = found_in("Rs.1939/- INR1939 USD4.11");
        let got: Vec<(&str, String)> = f.iter().map(|(v, s)| (*s, v.standard())).collect();
        let want = [("Rs.1939", "1939"), ("INR1939", "1939"), ("USD4.11", "4.11")];
        assert_eq!(got, want.map(|(a, b)| (a, b.to_string())));
    }

    #[test]
    fn date_order_of_documents() {
        assert_eq!(
            date_order(&["Date: 31/12/2017", "Due 15/01/2018"]),
            DateOrder::DayFirst
        );
        assert_eq!(
            date_order(&["Date: 12/31/2017 total $4.11", "Ship 01/15/2018"]),
            DateOrder::MonthFirst
        );
        assert_eq!(
            date_order(&["12/31/2017", "31/12/2017", "13/01/2018"]),
            DateOrder::DayFirst
        );
        assert_eq!(
            date_order(&["Date 03/08/2014 Total $4.11"]),
            DateOrder::MonthFirst
        );
        assert_eq!(
            date_order(&["Date 03/08/2014 Total Rs 1939"]),
            DateOrder::DayFirst
        );
        assert_eq!(
            date_order(&["Date 03/08/2014 $4.11 incl. GST"]),
            DateOrder::DayFirst
        );
        assert_eq!(date_order(&["12/31/2017 GST Rs 100"]), DateOrder::MonthFirst);
        assert_eq!(date_order(&["nothing here"]), DateOrder::DayFirst);
        assert_eq!(date_order(&[]), DateOrder::DayFirst);
    }

    #[test]
    fn same_value_positive() {
        let pairs = [
            ("August 3, 2014", "2014-08-03"),
            ("03/08/2014", "2014-08-03"),
            ("08/03/2014", "2014-08-03"),
            ("Rs 1,939.00", "1939.0"),
            ("$4.11", "4.11 USD"),
            ("$", "USD"),
            ("Rs.", "INR"),
            ("12.5%", "12.50 %"),
            ("#BLR_WFLD20151000982590", "# BLR_WFLD20151000982590"),
            ("  Oyo   Rooms. ", "oyo rooms"),
            ("(40.00)", "-40"),
        ];
        for (p, g) in pairs {
            assert!(same_value(p, g), "{p} vs {g}");
        }
    }

    #[test]
    fn same_value_negative() {
        let pairs = [
            ("4.12", "4.11"),
            ("2014-08-04", "2014-08-03"),
            ("31/12/2017", "2017-12-30"),
            ("$4.11", "Rs 4.11"),
            ("$", "EUR"),
            ("12%", "13%"),
            ("00030340067212", "30340067212"),
            ("Oyo", "Oyo Rooms"),
        ];
        for (p, g) in pairs {
            assert!(!same_value(p, g), "{p} vs {g}");
        }
    }

    #[test]
    fn find_never_panics_on_random_text() {
        let pool: Vec<char> = "0123456789 ./-,:$€₹£¥#%()@aAbBeéRsUSDugc中文\t\nNo.Phone:x_+−'"
            .chars()
            .collect();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..400 {
            let len = (next() % 60) as usize;
            let s: String = (0..len)
                .map(|_| pool[(next() % pool.len() as u64) as usize])
                .collect();
            for order in [DateOrder::DayFirst, DateOrder::MonthFirst] {
                let found = find(&s, order);
                let mut last_end = 0;
                for f in &found {
                    assert!(
                        f.start >= last_end && f.start < f.end && f.end <= s.len(),
                        "{s:?}: {found:?}"
                    );
                    assert!(s.is_char_boundary(f.start) && s.is_char_boundary(f.end));
                    last_end = f.end;
                }
            }
            let _ = (
                parse_date(&s, DateOrder::DayFirst),
                parse_amount(&s),
                currency_of(&s),
                date_order(&[&s]),
            );
            let _ = same_value(&s, "2014-08-03");
        }
    }
}
