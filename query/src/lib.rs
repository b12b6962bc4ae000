//! loupe-query: a [`SearchRequest`] in, ranked [`Hit`]s out.
//!
//! request -> encode the query once (CLIP text tower, image tower, or a stored vector for "find
//! similar"; the sentence embedder for the text space) -> run the signals (dense visual and dense
//! text in Qdrant, BM25 in tantivy), each with the filters applied inside the engine -> fuse (RRF, or
//! a weighted sum of min-max normalised scores), keeping each signal's rank and score for `explain`
//! -> group into moments -> paginate -> hydrate assets from the catalog, add highlighted snippets,
//! and land spoken hits on the first matched word.
//!
//! `score_threshold` is the minimum cosine similarity for a hit to come through the visual signal (an
//! absolute, comparable number); lexical hits qualify by matching; dense text hits need a cosine of
//! at least [`TEXT_DENSE_MIN`] (unrelated sentences score below it with MiniLM), so a visual query
//! is not padded with transcripts that merely exist.
//!
//! Not for: indexing, HTTP (the server wraps this), or answer generation.

pub mod fusion;

use loupe_models::media::{DecodeLimits, decode_image};
use loupe_models::{ClipModel, TextEmbedder};
use loupe_schemas::{
    AssetId, AssetKind, GroupBy, Hit, ImageQuery, Locator, SearchRequest, SearchResponse, Segment, Signal,
    SignalRun, SignalScore, TimeRange,
};
use loupe_store::{AssetRecord, Index, Space, VectorQuery};
use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// Everything that can go wrong with a search.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error(transparent)]
    Store(#[from] loupe_store::Error),
    #[error(transparent)]
    Model(#[from] loupe_models::Error),
    #[error("bad image: {0}")]
    BadImage(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Stable machine-readable code for JSON error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Store(e) => e.code(),
            Self::Model(_) => "model_error",
            Self::Internal(_) => "internal",
            Self::BadImage(_) => "bad_image",
            Self::NotFound(_) => "not_found",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Largest `limit` a request may ask for.
pub const MAX_LIMIT: usize = 1000;

/// How long before a matched word a deep link starts playing (seconds).
pub const WORD_LEAD_IN_S: f64 = 0.5;

/// Minimum cosine similarity for a hit of the dense text signal.
pub const TEXT_DENSE_MIN: f32 = 0.3;

/// The models that encode queries.
#[derive(Clone, Copy)]
pub struct Encoders<'a> {
    pub clip: &'a ClipModel,
    /// The sentence embedder; without it the text space is not searched.
    pub text: Option<&'a TextEmbedder>,
}

/// Runs one search. The signals run concurrently, each on its own thread: dense visual (CLIP
/// encoding + Qdrant) on the caller's, BM25 and dense text (sentence embedding + Qdrant) beside it.
pub fn search(index: &Index, encoders: Encoders<'_>, req: &SearchRequest) -> Result<SearchResponse> {
    let started = Instant::now();
    let model = encoders.clip;
    index.check_model(&model.id())?;
    let text_model = match encoders.text {
        Some(t) if index.check_text_model(&t.id())? => Some(t),
        _ => None,
    };
    let text = req.text.as_deref().map(str::trim).filter(|t| !t.is_empty());
    if text.is_none() && req.image.is_none() {
        return Err(Error::BadRequest("give a text query, an image, or both".into()));
    }
    if req.limit == 0 || req.limit > MAX_LIMIT {
        return Err(Error::BadRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    if let (Some(a), Some(b)) = (req.filters.date_from, req.filters.date_to)
        && a > b
    {
        return Err(Error::BadRequest("date_from is after date_to".into()));
    }
    if let (Some(a), Some(b)) = (req.filters.duration_min_s, req.filters.duration_max_s)
        && a > b
    {
        return Err(Error::BadRequest("duration_min_s is above duration_max_s".into()));
    }
    let offset = match &req.cursor {
        Some(c) => cursor_offset(c, req)?,
        None => req.offset,
    };
    if offset > MAX_OFFSET {
        return Err(Error::BadRequest(format!("offset must be at most {MAX_OFFSET}")));
    }
    // Each signal looks deeper than the page so fusion has material to work with.
    let depth = ((offset + req.limit) * 3).max(50);
    let filters = &file_filter(index, &req.filters)?;

    let (visual, lexical, text_dense) = std::thread::scope(|s| {
        let lexical = text.map(|t| {
            s.spawn(move || {
                timed(|| {
                    Ok(index
                        .text()
                        .search(t, filters, depth)?
                        .into_iter()
                        .map(|h| (h.segment_id, h.asset_id, h.score))
                        .collect())
                })
            })
        });
        let text_dense = match (text, text_model) {
            (Some(t), Some(m)) => Some(s.spawn(move || {
                timed(|| {
                    let v = m.embed(&[t])?.into_iter().next().unwrap_or_default();
                    scored(index.vectors().search(&VectorQuery {
                        space: Space::Text,
                        vector: &v,
                        filters,
                        limit: depth,
                        score_threshold: Some(TEXT_DENSE_MIN),
                    })?)
                })
            })),
            _ => None,
        };
        let visual = timed(|| {
            let v = query_vector(index, model, text, req.image.as_ref())?;
            scored(index.vectors().search(&VectorQuery {
                space: Space::Visual,
                vector: &v,
                filters,
                limit: depth,
                score_threshold: req.score_threshold,
            })?)
        });
        let join = |h: std::thread::ScopedJoinHandle<'_, Timed>| {
            h.join()
                .unwrap_or_else(|_| (Err(Error::Internal("a search signal panicked".into())), 0.0))
        };
        (visual, lexical.map(join), text_dense.map(join))
    });

    let mut lists = Vec::new();
    let mut runs = Vec::new();
    for (signal, run) in [
        (Signal::Visual, Some(visual)),
        (Signal::Lexical, lexical),
        (Signal::TextDense, text_dense),
    ] {
        let Some((list, took_ms)) = run else { continue };
        let list = list?;
        runs.push(SignalRun {
            signal,
            took_ms,
            candidates: list.len(),
        });
        if !list.is_empty() {
            lists.push((signal, list));
        }
    }
    let fused = fusion::fuse(&lists, &req.fusion);

    // Hydrate (one catalog read per asset), then group.
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
        // Written to the engines but not (yet) committed to the catalog: not a result.
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
    let horizon = MOMENT_HORIZON.max(2 * (offset + req.limit));
    let grouped = group(hits, req.group_by, horizon);
    let more = grouped.len() > offset + req.limit;
    let mut hits: Vec<Hit> = grouped.into_iter().skip(offset).take(req.limit).collect();
    let ids: Vec<_> = hits.iter().map(|h| h.segment.id).collect();
    let mut texts = index.text().segment_texts(&ids, text)?;
    let terms = text.map(words_of).unwrap_or_default();
    for h in &mut hits {
        let stored = texts.remove(&h.segment.id);
        let word_at = stored
            .as_ref()
            .and_then(|st| first_matched_word(&st.words, &terms));
        // The hit's own segment decides where to open (the moment may have grown around it).
        let own = h.segment.locator.time_range();
        h.at = match (word_at, own) {
            // A little before the word, so the player does not clip its start.
            (Some(t), Some((start, _))) => Some((t - WORD_LEAD_IN_S).max(start).max(0.0)),
            (Some(t), None) => Some((t - WORD_LEAD_IN_S).max(0.0)),
            (None, Some((start, _))) => Some(start),
            (None, None) => None,
        };
        if let Some(st) = &stored {
            h.boxes = matched_boxes(&st.boxes, &terms);
        }
        h.snippet = stored.and_then(|st| st.snippet);
        let fragment = match (h.at, &h.segment.locator) {
            (Some(t), _) => format!("#t={t:.1}"),
            // PDF open parameters (RFC 8118): viewers open the file at the page.
            (None, Locator::Page { page, .. }) if h.asset.kind == AssetKind::Document => {
                format!("#page={page}")
            }
            (None, _) => String::new(),
        };
        h.deep_link = format!("{}{fragment}", h.asset.path);
        h.media_url = format!("{}{fragment}", media_url(&h.asset.id));
        h.thumbnail_url = thumbnail_url(&h.asset, &h.segment);
        if !req.explain {
            h.signals.clear();
        }
    }
    let next_cursor = more.then(|| make_cursor(offset + req.limit, req));
    Ok(SearchResponse {
        hits,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
        signals: runs,
        next_cursor,
        fusion: req.fusion.clone(),
        visual_model: model.id(),
        text_model: text_model.map(|m| m.id()),
    })
}

/// Deepest offset a request may page to (each signal looks three pages deeper).
pub const MAX_OFFSET: usize = 10_000;

type Timed = (Result<Vec<fusion::Ranked>>, f64);

fn timed(f: impl FnOnce() -> Result<Vec<fusion::Ranked>>) -> Timed {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed().as_secs_f64() * 1000.0)
}

fn scored(list: Vec<loupe_store::Scored>) -> Result<Vec<fusion::Ranked>> {
    Ok(list
        .into_iter()
        .map(|s| (s.segment_id, s.asset_id, s.score))
        .collect())
}

/// The file of an asset through the HTTP API.
/// A `path_prefix` that names an indexed file (not a folder) means that file: it becomes an
/// asset filter, so "only this PDF" works the same way as "only this folder".
fn file_filter(index: &Index, f: &loupe_schemas::Filters) -> Result<loupe_schemas::Filters> {
    let Some(p) = f.path_prefix.as_deref() else {
        return Ok(f.clone());
    };
    let Some(entry) = index.catalog().file(p.trim_end_matches('/'))? else {
        return Ok(f.clone());
    };
    if !f.asset_ids.is_empty() && !f.asset_ids.contains(&entry.asset_id) {
        // Another asset was asked for: as a folder prefix, the file's path matches nothing, which
        // is the answer.
        return Ok(f.clone());
    }
    let mut out = f.clone();
    out.path_prefix = None;
    out.asset_ids = vec![entry.asset_id];
    Ok(out)
}

pub fn media_url(id: &AssetId) -> String {
    format!("/v1/assets/{id}/media")
}

/// The thumbnail of a hit through the HTTP API: the keyframe or page itself, else the asset's
/// (a photo, a video's first keyframe, a document's first page); none for sound recordings.
pub fn thumbnail_url(asset: &loupe_schemas::Asset, segment: &Segment) -> Option<String> {
    match (asset.kind, &segment.locator) {
        (AssetKind::Audio, _) => None,
        (_, Locator::Shot { .. } | Locator::Page { .. }) => Some(format!(
            "/v1/assets/{}/thumbnail?segment={}",
            asset.id, segment.id
        )),
        _ => Some(format!("/v1/assets/{}/thumbnail", asset.id)),
    }
}

/// A request's fingerprint for cursors: everything but where the page starts and how long it is.
fn request_fingerprint(req: &SearchRequest) -> u64 {
    let mut base = req.clone();
    base.offset = 0;
    base.limit = 0;
    base.cursor = None;
    base.explain = false;
    loupe_schemas::fnv1a64(serde_json::to_string(&base).unwrap_or_default().as_bytes())
}

fn make_cursor(offset: usize, req: &SearchRequest) -> String {
    format!("{offset}.{:016x}", request_fingerprint(req))
}

/// The offset a cursor points at, refusing a cursor made for another request.
fn cursor_offset(cursor: &str, req: &SearchRequest) -> Result<usize> {
    let bad = || Error::BadRequest("cursor is not one this server handed out".into());
    let (offset, fp) = cursor.split_once('.').ok_or_else(bad)?;
    let offset: usize = offset.parse().map_err(|_| bad())?;
    let fp = u64::from_str_radix(fp, 16).map_err(|_| bad())?;
    if fp != request_fingerprint(req) {
        return Err(Error::BadRequest(
            "cursor belongs to a different search (same text, image, filters and fusion needed)".into(),
        ));
    }
    Ok(offset)
}

/// Lower-case alphanumeric words of a text (what word matching compares).
fn words_of(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .map(|w| w.trim_matches('\'').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Start time of the longest run of query words found, in order, in a transcript's words
/// (earliest on ties); `None` when no query word was said.
pub fn first_matched_word(words: &[loupe_schemas::WordTime], terms: &[String]) -> Option<f64> {
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
pub fn matched_boxes(boxes: &[loupe_schemas::WordBox], terms: &[String]) -> Vec<loupe_schemas::WordBox> {
    if terms.is_empty() {
        return Vec::new();
    }
    boxes
        .iter()
        .filter(|b| words_of(&b.text).iter().any(|w| terms.contains(w)))
        .cloned()
        .collect()
}

/// Hits of the same video or recording closer than this (seconds) merge into one moment.
pub const MOMENT_GAP_S: f64 = 2.0;

/// Only hits ranked this high (or within twice the requested page) may grow a moment; weaker
/// neighbours are absorbed into it without stretching it, so a dense signal that ranks every shot
/// of a video does not turn the whole video into one moment.
pub const MOMENT_HORIZON: usize = 20;

/// Groups hits (sorted best first): per segment, per moment, or per asset. Order is kept: a group
/// ranks where its best member ranked, and shows that member.
pub fn group(hits: Vec<Hit>, by: GroupBy, horizon: usize) -> Vec<Hit> {
    match by {
        GroupBy::Segment => hits,
        GroupBy::Asset => {
            let mut seen = HashSet::new();
            hits.into_iter()
                .filter(|h| seen.insert(h.asset.id.clone()))
                .collect()
        }
        GroupBy::Moment => {
            let mut out: Vec<Hit> = Vec::new();
            for (rank, h) in hits.into_iter().enumerate() {
                let joined = h.moment.and_then(|m| {
                    out.iter_mut().find(|g| {
                        g.asset.id == h.asset.id
                            && g.moment.is_some_and(|gm| {
                                m.start <= gm.end + MOMENT_GAP_S && gm.start <= m.end + MOMENT_GAP_S
                            })
                    })
                });
                match (joined, h.moment) {
                    (Some(_), Some(_)) if rank >= horizon => {}
                    (Some(g), Some(m)) => {
                        if let Some(gm) = g.moment.as_mut() {
                            gm.start = gm.start.min(m.start);
                            gm.end = gm.end.max(m.end);
                        }
                        g.merged += 1;
                    }
                    _ => out.push(h),
                }
            }
            out
        }
    }
}

/// Decodes an example image, within the same limits as indexing (a decompression bomb is refused).
pub fn decode_query_image(bytes: &[u8]) -> Result<image::DynamicImage> {
    decode_image(bytes, &DecodeLimits::default())
        .map(|d| d.image)
        .map_err(|reason| Error::BadImage(reason.to_string()))
}

/// The query's point in the visual space: text, image, or their normalised sum.
fn query_vector(
    index: &Index,
    model: &ClipModel,
    text: Option<&str>,
    image: Option<&ImageQuery>,
) -> Result<Vec<f32>> {
    let mut parts = Vec::new();
    if let Some(t) = text {
        parts.extend(model.text.embed(&[t])?);
    }
    match image {
        None => {}
        Some(ImageQuery::Path { path }) => {
            let bytes = std::fs::read(path)
                .map_err(|e| Error::BadRequest(format!("cannot read image {path}: {e}")))?;
            parts.extend(model.vision.embed(&[decode_query_image(&bytes)?])?);
        }
        Some(ImageQuery::Base64 { data }) => {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|e| Error::BadRequest(format!("image is not valid base64: {e}")))?;
            parts.extend(model.vision.embed(&[decode_query_image(&bytes)?])?);
        }
        Some(ImageQuery::Asset { id }) => {
            let whole = Segment::new(id.clone(), Locator::Whole);
            let mut v = index.vectors().vector(whole.id, Space::Visual)?;
            if v.is_none() {
                // A video or a document: its first keyframe or page.
                let rec = index
                    .asset(id)?
                    .ok_or_else(|| Error::NotFound(format!("asset {id} is not in the index")))?;
                for s in &rec.segments {
                    if matches!(s.locator, Locator::Shot { .. } | Locator::Page { .. }) {
                        v = index.vectors().vector(s.id, Space::Visual)?;
                        if v.is_some() {
                            break;
                        }
                    }
                }
            }
            parts
                .push(v.ok_or_else(|| Error::BadRequest(format!("asset {id} has no picture to search by")))?);
        }
        Some(ImageQuery::Segment { id }) => {
            let v = index
                .vectors()
                .vector(*id, Space::Visual)?
                .ok_or_else(|| Error::NotFound(format!("segment {id} has no picture in the index")))?;
            parts.push(v);
        }
    }
    let dim = parts.first().map_or(0, Vec::len);
    let mut sum = vec![0f32; dim];
    for p in &parts {
        for (s, x) in sum.iter_mut().zip(p) {
            *s += x;
        }
    }
    loupe_models::clip::l2_normalize(&mut sum);
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use loupe_schemas::{Asset, AssetKind};

    fn hit(asset: u8, range: Option<(f64, f64)>, score: f32) -> Hit {
        let id = AssetId::from_hash(&[asset; 32]);
        let locator = match range {
            Some((a, b)) => Locator::Shot {
                t_start: a,
                t_end: b,
                keyframe: a,
            },
            None => Locator::Whole,
        };
        Hit {
            score,
            asset: Asset {
                id: id.clone(),
                kind: AssetKind::Video,
                path: format!("/v{asset}.mp4"),
                paths: vec![],
                size: 1,
                mtime: 0,
                width: None,
                height: None,
                duration_s: None,
                pages: None,
                captured_at: None,
                language: None,
            },
            moment: locator.time_range().map(|(start, end)| TimeRange { start, end }),
            segment: Segment::new(id, locator),
            signals: vec![],
            merged: 1,
            deep_link: String::new(),
            media_url: String::new(),
            thumbnail_url: None,
            snippet: None,
            at: None,
            boxes: Vec::new(),
        }
    }

    #[test]
    fn moments_merge_adjacent_hits_of_one_file_only() {
        let hits = vec![
            hit(1, Some((10.0, 12.0)), 0.9),
            hit(2, Some((11.0, 12.0)), 0.8),
            hit(1, Some((13.0, 15.0)), 0.7), // 1 s after the first: same moment
            hit(1, Some((40.0, 42.0)), 0.6), // far away: its own moment
            hit(3, None, 0.5),
        ];
        let m = group(hits.clone(), GroupBy::Moment, 20);
        assert_eq!(m.len(), 4);
        assert_eq!(
            m[0].moment,
            Some(TimeRange {
                start: 10.0,
                end: 15.0
            })
        );
        assert_eq!(m[0].merged, 2);
        assert_eq!(m[0].score, 0.9);
        assert_eq!(
            m[2].moment,
            Some(TimeRange {
                start: 40.0,
                end: 42.0
            })
        );
        let a = group(hits.clone(), GroupBy::Asset, 20);
        assert_eq!(a.len(), 3);
        assert_eq!(group(hits.clone(), GroupBy::Segment, 20).len(), 5);
        // Past the horizon, a neighbour is absorbed without stretching the moment.
        let tight = group(hits, GroupBy::Moment, 2);
        assert_eq!(
            tight.len(),
            4,
            "the far hit of file 1 still shows; the near one is absorbed"
        );
        assert_eq!(
            tight[0].moment,
            Some(TimeRange {
                start: 10.0,
                end: 12.0
            })
        );
    }

    #[test]
    fn lands_on_the_longest_run_of_query_words() {
        let w = |text: &str, start: f64| loupe_schemas::WordTime {
            text: text.into(),
            start,
            end: start + 0.3,
            p: 0.9,
        };
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
}
