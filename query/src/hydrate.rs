//! Steps 3b and 5 of a search: fused results become [`Hit`]s with their assets (one catalog read
//! per asset), and the returned page gets its text: snippets with highlights, the word boxes the
//! query names, where to open (the first matched word, a shot's start, a page), and its links.

use crate::fusion::Fused;
use crate::{Links, Result};
use loupe_schemas::{AssetId, AssetKind, Hit, Locator, Segment, SignalScore, TimeRange, WordBox, WordTime};
use loupe_store::{AssetRecord, Index};
use std::collections::HashMap;

/// How long before a matched word a deep link starts playing (seconds).
pub const WORD_LEAD_IN_S: f64 = 0.5;

/// Fused results as hits, best first, with their assets from the catalog. A result whose asset is
/// written to the engines but not (yet) committed to the catalog is not a result.
pub fn hits(index: &Index, fused: Vec<Fused>) -> Result<Vec<Hit>> {
    let mut records: HashMap<AssetId, Option<AssetRecord>> = HashMap::new();
    let mut hits = Vec::new();
    for f in fused {
        let rec = match records.get(&f.asset_id) {
            Some(r) => r.clone(),
            None => {
                let r = index.asset(&f.asset_id)?;
                records.insert(f.asset_id.clone(), r.clone());
                r
            }
        };
        let Some(rec) = rec else { continue };
        let locator = rec
            .segment(f.segment_id)
            .map_or(Locator::Whole, |s| s.locator.clone());
        let moment = locator.time_range().map(|(start, end)| TimeRange { start, end });
        hits.push(Hit {
            score: f.score,
            segment: Segment {
                id: f.segment_id,
                asset_id: f.asset_id,
                locator,
            },
            deep_link: String::new(),
            media_url: String::new(),
            thumbnail_url: None,
            asset: rec.asset,
            signals: f
                .signals
                .into_iter()
                .map(|(signal, rank, score)| SignalScore { signal, rank, score })
                .collect(),
            moment,
            merged: 1,
            snippet: None,
            at: None,
            boxes: Vec::new(),
        });
    }
    Ok(hits)
}

/// Fills in the page's text, place to open and links; drops the per-signal detail unless
/// `explain`.
pub fn finish(
    index: &Index,
    hits: &mut [Hit],
    text: Option<&str>,
    links: &dyn Links,
    explain: bool,
) -> Result<()> {
    let ids: Vec<_> = hits.iter().map(|h| h.segment.id).collect();
    let mut texts = index.text().segment_texts(&ids, text)?;
    let terms = text.map(words_of).unwrap_or_default();
    for h in hits {
        let stored = texts.remove(&h.segment.id);
        let word_at = stored
            .as_ref()
            .and_then(|st| first_matched_word(&st.words, &terms));
        h.at = open_at(word_at, h.segment.locator.time_range());
        if let Some(st) = &stored {
            h.boxes = matched_boxes(&st.boxes, &terms);
        }
        h.snippet = stored.and_then(|st| st.snippet);
        let fragment = fragment(h.at, &h.segment.locator, h.asset.kind);
        h.deep_link = format!("{}{fragment}", h.asset.path);
        let media = links.media(&h.asset.id);
        h.media_url = if media.is_empty() {
            media
        } else {
            format!("{media}{fragment}")
        };
        h.thumbnail_url = links.thumbnail(&h.asset, &h.segment);
        if !explain {
            h.signals.clear();
        }
    }
    Ok(())
}

/// Where a hit opens: a little before its first matched word (so the player does not clip its
/// start, never before the hit's own segment), else the segment's start. The hit's own segment
/// decides, not the moment that may have grown around it.
pub fn open_at(word_at: Option<f64>, own: Option<(f64, f64)>) -> Option<f64> {
    match (word_at, own) {
        (Some(t), Some((start, _))) => Some((t - WORD_LEAD_IN_S).max(start).max(0.0)),
        (Some(t), None) => Some((t - WORD_LEAD_IN_S).max(0.0)),
        (None, Some((start, _))) => Some(start),
        (None, None) => None,
    }
}

/// The URL fragment that opens a file where a hit is: `#t=` (media fragments) for a time, `#page=`
/// (PDF open parameters, RFC 8118) for a document page, nothing otherwise.
pub fn fragment(at: Option<f64>, locator: &Locator, kind: AssetKind) -> String {
    match (at, locator) {
        (Some(t), _) => format!("#t={t:.1}"),
        (None, Locator::Page { page, .. }) if kind == AssetKind::Document => format!("#page={page}"),
        (None, _) => String::new(),
    }
}

/// Lower-case alphanumeric words of a text (what word matching compares).
pub fn words_of(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .map(|w| w.trim_matches('\'').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Start time of the longest run of query words found, in order, in a transcript's words
/// (earliest on ties); `None` when no query word was said.
pub fn first_matched_word(words: &[WordTime], terms: &[String]) -> Option<f64> {
    if terms.is_empty() || words.is_empty() {
        return None;
    }
    let spoken: Vec<String> = words.iter().map(|w| words_of(&w.text).join("")).collect();
    let mut best: Option<(usize, usize)> = None; // (run length, word index)
    for i in 0..spoken.len() {
        for j in 0..terms.len() {
            let run = spoken[i..]
                .iter()
                .zip(&terms[j..])
                .take_while(|(a, b)| a == b)
                .count();
            if run > 0 && best.is_none_or(|(len, _)| run > len) {
                best = Some((run, i));
            }
        }
    }
    best.map(|(_, i)| words[i].start)
}

/// The words of a page that the query names (any of a word's alphanumeric parts equals a query
/// word), in reading order.
pub fn matched_boxes(boxes: &[WordBox], terms: &[String]) -> Vec<WordBox> {
    if terms.is_empty() {
        return Vec::new();
    }
    boxes
        .iter()
        .filter(|b| words_of(&b.text).iter().any(|w| terms.contains(w)))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(text: &str, start: f64) -> WordTime {
        WordTime {
            text: text.into(),
            start,
            end: start + 0.3,
            p: 0.9,
        }
    }

    #[test]
    fn lands_on_the_longest_run_of_query_words() {
        let words = vec![
            w("And", 1.0),
            w("so,", 1.3),
            w("ask", 2.0),
            w("what", 2.4),
            w("ask", 5.0),
            w("not", 5.3),
            w("what", 5.6),
        ];
        let terms = words_of("Ask not what your country can do");
        assert_eq!(first_matched_word(&words, &terms), Some(5.0));
        assert_eq!(first_matched_word(&words, &words_of("so")), Some(1.3));
        assert_eq!(first_matched_word(&words, &words_of("nothing here")), None);
    }

    #[test]
    fn ties_take_the_earliest_and_punctuation_is_ignored() {
        let words = vec![w("Budget.", 3.0), w("budget!", 9.0), w("don't", 11.0)];
        assert_eq!(first_matched_word(&words, &words_of("the BUDGET")), Some(3.0));
        assert_eq!(first_matched_word(&words, &words_of("'don't'")), Some(11.0));
        assert_eq!(first_matched_word(&words, &[]), None);
        assert_eq!(first_matched_word(&[], &words_of("budget")), None);
    }

    #[test]
    fn boxes_are_those_of_the_named_words() {
        let b = |text: &str| WordBox {
            text: text.into(),
            bbox: [0.0, 0.0, 1.0, 1.0],
            conf: 1.0,
            line: 0,
        };
        let boxes = vec![b("Total:"), b("1,250"), b("EUR"), b("invoice-total")];
        let got = matched_boxes(&boxes, &words_of("total eur"));
        let texts: Vec<_> = got.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(texts, ["Total:", "EUR", "invoice-total"]);
        assert!(matched_boxes(&boxes, &[]).is_empty());
        assert_eq!(words_of("It's  a TEST-case"), ["it's", "a", "test", "case"]);
    }

    #[test]
    fn opens_a_little_before_the_word_within_its_segment() {
        assert_eq!(open_at(Some(10.0), Some((8.0, 12.0))), Some(9.5));
        assert_eq!(open_at(Some(8.2), Some((8.0, 12.0))), Some(8.0));
        assert_eq!(open_at(Some(0.2), None), Some(0.0));
        assert_eq!(open_at(None, Some((4.0, 6.0))), Some(4.0));
        assert_eq!(open_at(None, None), None);
    }

    #[test]
    fn fragments_name_a_time_or_a_page() {
        let page = Locator::Page {
            page: 3,
            width: 100.0,
            height: 100.0,
        };
        assert_eq!(fragment(Some(4.24), &Locator::Whole, AssetKind::Video), "#t=4.2");
        assert_eq!(fragment(None, &page, AssetKind::Document), "#page=3");
        assert_eq!(fragment(None, &page, AssetKind::Image), "");
        assert_eq!(fragment(None, &Locator::Whole, AssetKind::Image), "");
    }
}
