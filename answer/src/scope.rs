//! Questions that name their document: "What is the total of the QualityHosting invoice?",
//! "the booking ID in invoice_oyo.pdf". The evidence must then come from that document, not from
//! whichever similar invoice ranks first.
//!
//! A word of the question names documents when it is written like a name (capitalised, or with
//! a dot, underscore or digit in it: `QualityHosting`, `invoice_oyo.pdf`, `AWS`) or when it is
//! in a file's name, and when the text index (file names, paths and page text) finds it in few of
//! the library's files: at most [`MAX_NAMED`], and at most half of them once the library holds
//! four or more. Several naming words narrow to the files that have them all (or, when none has
//! all, those with most). Words that say what a document is or what is asked ("invoice",
//! "total", "date") never name one.
//!
//! Not for: ranking within the named documents (that is the search), guessing a document the
//! question does not name.

use crate::Result;
use crate::text;
use loupe_query::Searcher;
use loupe_schemas::{AssetId, Filters};
use std::collections::BTreeMap;
use std::path::Path;

/// A name that matches more files than this is not naming one document.
pub const MAX_NAMED: usize = 5;

/// Words that say what kind of document or what field, never whose.
const GENERIC: &[&str] = &[
    "invoice",
    "invoices",
    "receipt",
    "receipts",
    "bill",
    "bills",
    "document",
    "documents",
    "file",
    "files",
    "pdf",
    "page",
    "pages",
    "scan",
    "scanned",
    "statement",
    "letter",
    "contract",
    "report",
    "form",
    "order",
    "number",
    "total",
    "amount",
    "date",
    "id",
    "issued",
    "issue",
    "vendor",
    "seller",
    "customer",
    "tax",
    "price",
    "payment",
    "due",
    "currency",
    "address",
    "name",
    "phone",
    "email",
    "e-mail",
    "website",
    "what",
    "which",
    "who",
    "when",
    "where",
    "how",
    "is",
    "the",
    "of",
    "on",
    "in",
    "for",
    "from",
    "and",
    "a",
    "an",
    "to",
    "by",
    "i",
    "my",
];

/// The naming words of a question, lower-cased, each with whether it is written like a name.
fn candidates(question: &str) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = Vec::new();
    let words = question.split(|c: char| c.is_whitespace() || c == ',' || c == '?' || c == '"' || c == '\'');
    for (k, raw) in words.enumerate() {
        let w = raw.trim_matches(|c: char| !c.is_alphanumeric());
        if w.chars().filter(|c| c.is_alphanumeric()).count() < 3 {
            continue;
        }
        let lower = w.to_lowercase();
        if GENERIC.contains(&lower.as_str()) || text::content_terms(&lower).is_empty() {
            continue;
        }
        // A capital at the start of the question says nothing ("Describe ...").
        let name_like = (k > 0 && w.chars().next().is_some_and(char::is_uppercase))
            || w.chars().skip(1).any(char::is_uppercase)
            || w.contains(['.', '_'])
            || w.chars().any(|c| c.is_ascii_digit());
        if !out.iter().any(|(o, _)| *o == lower) {
            out.push((lower, name_like));
        }
    }
    // Names first; a long question (a pasted page) is not searched word by word.
    out.sort_by_key(|(_, name_like)| !*name_like);
    out.truncate(MAX_WORDS);
    out
}

/// At most this many words of a question are looked up as possible names.
const MAX_WORDS: usize = 8;

fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned())
        .to_lowercase()
}

/// The documents the question names, or none when it names none. Respects `filters`.
pub fn named(searcher: &Searcher, question: &str, filters: &Filters) -> Result<Vec<AssetId>> {
    let index = searcher.index();
    let (_, assets) = index.catalog().counts()?;
    let assets = usize::try_from(assets).unwrap_or(usize::MAX);
    let mut sets: Vec<Vec<AssetId>> = Vec::new();
    for (word, name_like) in candidates(question) {
        // The word as one term (a file name like "invoice_oyo.pdf" is split by the index's
        // tokenizer, so it is matched on the file names below).
        let hits = index.text().search(&format!("\"{word}\""), filters, 50)?;
        let mut ids: Vec<AssetId> = Vec::new();
        let mut in_name = false;
        for h in hits {
            if ids.contains(&h.asset_id) {
                continue;
            }
            let Some(rec) = index.asset(&h.asset_id)? else {
                continue;
            };
            let named_file = file_name(&rec.asset.path).contains(&word);
            in_name |= named_file;
            if word.contains(['.', '_']) && !named_file {
                continue;
            }
            ids.push(h.asset_id);
            if ids.len() > MAX_NAMED {
                // In too many files to name one: not a name.
                break;
            }
        }
        let selective = !ids.is_empty() && ids.len() <= MAX_NAMED && (assets < 4 || ids.len() * 2 <= assets);
        if selective && (name_like || in_name) {
            sets.push(ids);
        }
    }
    Ok(narrow(sets))
}

/// The files every set has; when no file is in all, those in most.
fn narrow(sets: Vec<Vec<AssetId>>) -> Vec<AssetId> {
    let mut count: BTreeMap<AssetId, usize> = BTreeMap::new();
    for s in &sets {
        for id in s {
            *count.entry(id.clone()).or_default() += 1;
        }
    }
    let top = count.values().copied().max().unwrap_or(0);
    count
        .into_iter()
        .filter(|(_, c)| *c == top && top > 0)
        .map(|(id, _)| id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_told_from_field_words() {
        let c = candidates("What is the total amount of the QualityHosting invoice?");
        assert_eq!(c, vec![("qualityhosting".to_string(), true)]);
        let c = candidates("what is the booking id in invoice_oyo.pdf");
        assert!(c.contains(&("invoice_oyo.pdf".to_string(), true)), "{c:?}");
        assert!(c.contains(&("booking".to_string(), false)), "{c:?}");
        assert!(candidates("What is the invoice number?").is_empty());
        assert_eq!(
            candidates("Describe the beach"),
            vec![("describe".to_string(), false), ("beach".to_string(), false)]
        );
    }

    #[test]
    fn several_names_narrow_to_the_files_that_have_most() {
        let a = AssetId::from_hash(&[0xaa; 32]);
        let b = AssetId::from_hash(&[0xbb; 32]);
        assert_eq!(
            narrow(vec![vec![a.clone(), b.clone()], vec![b.clone()]]),
            vec![b.clone()]
        );
        assert!(narrow(Vec::new()).is_empty());
    }
}
