//! What a question asks for: the type of value it expects (a date, an amount, an identifier...)
//! and the label it names ("invoice" + "date", "booking" + "id"), read from its words.
//!
//! English questions only; anything not recognised is [`Expect::Text`], which every answerer
//! handles as before. Used by the extractive answerer (which value on the page to quote), by the
//! typed-answer step (which standard form to answer in) and by `eval` (figures per question type).
//!
//! Not for: finding values on a page (`fields`), ranking passages (`text`).

use crate::text;

/// The kind of answer a question expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expect {
    /// An ISO 8601 date.
    Date,
    /// A number (a total, a price, a tax).
    Amount,
    /// An ISO 4217 code.
    Currency,
    Percent,
    Email,
    /// A web address.
    Website,
    Phone,
    /// An invoice number, an order or booking id, a tax registration (GSTIN, VAT)...
    Identifier,
    /// Who: a person, a company, an issuer.
    Name,
    /// Anything else: a phrase or a sentence from the page.
    Text,
}

impl Expect {
    /// The group `eval` reports figures by.
    pub fn group(self) -> &'static str {
        match self {
            Expect::Identifier | Expect::Email | Expect::Phone | Expect::Website => "identifier",
            Expect::Amount | Expect::Percent | Expect::Currency => "amount",
            Expect::Date => "date",
            Expect::Name => "name",
            Expect::Text => "free text",
        }
    }

    /// Whether answers of this type are values read off a form (what the extractive answerer is
    /// held to on "field questions").
    pub fn is_field(self) -> bool {
        !matches!(self, Expect::Text)
    }

    /// The kind of value on the page that answers it, if it is one.
    pub fn kind(self) -> Option<crate::fields::Kind> {
        use crate::fields::Kind;
        Some(match self {
            Expect::Date => Kind::Date,
            Expect::Amount => Kind::Amount,
            Expect::Currency => Kind::Currency,
            Expect::Percent => Kind::Percent,
            Expect::Email => Kind::Email,
            Expect::Website => Kind::Url,
            Expect::Phone => Kind::Phone,
            Expect::Identifier => Kind::Identifier,
            Expect::Name | Expect::Text => return None,
        })
    }
}

/// A question, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub expect: Expect,
    /// The words naming the field asked about, stemmed ("invoic", "number"), without the words
    /// that only say the type ("what", "date" stays: labels print it).
    pub label: Vec<String>,
    /// Whether the type is certain (the question names it: "date", "amount", "number"), not only
    /// likely ("when ...?" may be answered by "on Thursday at three").
    pub strict: bool,
    /// Words written with a capital inside the question ("ACME", "Netpresse", "IBAN"), stemmed:
    /// they may name a document rather than a field.
    pub names: Vec<String>,
}

/// Words that name an identifier field.
const ID_WORDS: &[&str] = &[
    "number",
    "id",
    "code",
    "gstin",
    "gst",
    "vat",
    "tin",
    "pan",
    "cin",
    "iban",
    "swift",
    "bic",
    "ifsc",
    "account",
    "reference",
    "ref",
    "serial",
    "sku",
    "isbn",
    "pnr",
    "awb",
    "tracking",
];

/// Words that ask for an amount.
const AMOUNT_WORDS: &[&str] = &[
    "amount", "total", "price", "cost", "costs", "balance", "sum", "fee", "fees", "charge", "charges",
    "paid", "pay", "due", "subtotal", "tax", "vat", "tip", "discount", "spent", "spend", "much",
];

/// Reads a question.
pub fn analyse(question: &str) -> Question {
    let lower = question.to_lowercase();
    let words: Vec<String> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '@'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    let has = |w: &str| words.iter().any(|x| x == w);
    let any = |ws: &[&str]| ws.iter().any(|w| has(w));
    let phrase = |p: &str| lower.contains(p);
    let expect = if any(&["percentage", "percent"]) || phrase("what share") {
        Expect::Percent
    } else if any(&["currency", "currencies"]) {
        Expect::Currency
    } else if any(&["date", "dated"]) || words.first().is_some_and(|w| w == "when") {
        Expect::Date
    } else if (any(&["e-mail", "email", "mail"]) && any(&["address", "e-mail", "email"]))
        && !any(&["percentage"])
    {
        Expect::Email
    } else if any(&["website", "url", "site", "domain", "homepage", "web"]) {
        Expect::Website
    } else if any(&["phone", "telephone", "mobile", "fax", "tel"]) {
        Expect::Phone
    } else if phrase("how much") || phrase("how many dollars") || any(AMOUNT_WORDS) {
        Expect::Amount
    } else if any(ID_WORDS) {
        Expect::Identifier
    } else if has("who")
        || has("whom")
        || any(&[
            "name", "issuer", "vendor", "seller", "supplier", "company", "merchant", "payee", "customer",
            "buyer",
        ])
    {
        Expect::Name
    } else {
        Expect::Text
    };
    // Certain only for a question shaped like a request for one value ("what is the ...",
    // "how much ...", "which date ..."), not for "why did the total fall?".
    let value_shaped = [
        "what is",
        "what's",
        "what was",
        "what are",
        "what were",
        "which",
        "how much",
        "give me",
        "tell me the",
        "find the",
        "show the",
        "what",
    ]
    .iter()
    .any(|p| lower.trim_start().starts_with(p))
        && !any(&["why", "how", "explain", "describe", "summarize", "summarise"])
        || phrase("how much");
    let strict = value_shaped && (expect != Expect::Date || any(&["date", "dated"]));
    let names = question
        .split_whitespace()
        .skip(1)
        .filter(|w| w.chars().next().is_some_and(char::is_uppercase))
        .flat_map(text::content_terms)
        .collect();
    Question {
        expect,
        label: label_terms(question),
        strict,
        names,
    }
}

/// The question's content terms, with hyphenated words also split ("check-in" gives "check"
/// and "in", so it meets a page's "Check In" and not "Check Out"), and "no"/"#" read as
/// "number".
pub fn label_terms(question: &str) -> Vec<String> {
    let mut out = text::content_terms(question);
    for t in text::tokens(question) {
        if t.contains('-') && t.chars().all(|c| c.is_alphabetic() || c == '-') {
            for part in t.split('-').filter(|p| !p.is_empty()) {
                let s = text::stem(part);
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
    }
    out
}

/// The stemmed words of a label printed on a page, with the usual abbreviations spelled out
/// ("No." and "#" are "number", "Qty" is "quantity", "Amt" is "amount").
pub fn page_label_terms(label: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in label.split(|c: char| c.is_whitespace() || c == '/' || c == '-' || c == '(' || c == ')') {
        let w = raw
            .trim_matches(|c: char| !c.is_alphanumeric() && c != '#')
            .to_lowercase();
        let w = match w.as_str() {
            "no" | "nr" | "num" | "#" | "no." => "number".to_string(),
            "qty" => "quantity".to_string(),
            "amt" => "amount".to_string(),
            "inv" => "invoice".to_string(),
            "dt" => "date".to_string(),
            "ref" => "reference".to_string(),
            "tel" | "ph" | "mob" => "phone".to_string(),
            _ => w,
        };
        if w.is_empty() {
            continue;
        }
        let s = text::stem(&w);
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// Words a label may use for a question's word ("method" is printed "Mode"). Stemmed question
/// words in, plain words out.
pub fn synonyms(term: &str) -> &'static [&'static str] {
    match term {
        "method" => &["mode", "type"],
        "mode" => &["method", "type"],
        "vendor" | "seller" | "supplier" => &["vendor", "seller", "supplier", "sold"],
        "customer" | "client" | "buyer" => &["customer", "client", "buyer", "bill"],
        "phone" | "telephon" => &["phone", "tel", "mobile"],
        "address" => &["addr"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dev_sets_questions_get_their_types() {
        let cases = [
            ("What is the invoice number?", Expect::Identifier),
            ("What is the booking ID?", Expect::Identifier),
            ("What is the GSTIN?", Expect::Identifier),
            ("What is the order ID?", Expect::Identifier),
            ("What is the total amount?", Expect::Amount),
            ("What is the amount before tax?", Expect::Amount),
            ("What dollar amount is mentioned?", Expect::Amount),
            ("What is the invoice date?", Expect::Date),
            ("What is the check-out date?", Expect::Date),
            ("When was it issued?", Expect::Date),
            ("Who issued the invoice?", Expect::Name),
            ("Who lost money on pork?", Expect::Name),
            ("What currency is used?", Expect::Currency),
            ("What website is given for the partner?", Expect::Website),
            ("What e-mail address appears in the text?", Expect::Email),
            ("What percentage of e-mail is spam?", Expect::Percent),
            ("What is the payment method?", Expect::Text),
            ("Which chapter starts on this page?", Expect::Text),
            (
                "What did the narrator get when he prayed for things?",
                Expect::Text,
            ),
            ("What is the phone number of the seller?", Expect::Phone),
            ("How much did I pay for the hotel?", Expect::Amount),
        ];
        for (q, want) in cases {
            assert_eq!(analyse(q).expect, want, "{q}");
        }
    }

    #[test]
    fn labels_keep_the_field_words() {
        assert!(!analyse("Why did the total revenue fall?").strict);
        assert!(analyse("How much is the total?").strict);
        assert_eq!(analyse("Why did she say no?").expect, Expect::Text);
        let q = analyse("What is the check-in date?");
        assert!(q.label.contains(&"check".to_string()) && q.label.contains(&"in".to_string()));
        assert_eq!(page_label_terms("Invoice No :"), ["invoic", "number"]);
        assert_eq!(page_label_terms("Check In"), ["check", "in"]);
    }
}
