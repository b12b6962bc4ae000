//! Step 2 of a search: run each signal (dense visual, BM25, dense text) with the plan's filters,
//! concurrently, each giving a ranked list and how long it took.
//!
//! `score_threshold` is the minimum cosine similarity for a hit to come through the visual signal;
//! lexical hits qualify by matching; dense text hits need a cosine of at least
//! [`TEXT_DENSE_MIN`].

use crate::fusion::Ranked;
use crate::plan::Plan;
use crate::{Error, Result};
use loupe_models::{SentenceEmbedder, VisualEmbedder};
use loupe_schemas::{ImageQuery, Locator, SearchRequest, Segment, Signal, SignalRun};
use loupe_store::{Index, Space, VectorQuery};
use std::time::Instant;

/// Minimum cosine similarity for a hit of the dense text signal.
pub const TEXT_DENSE_MIN: f32 = 0.3;

/// Each signal that ran, with its ranked list (best first).
#[derive(Debug, Default)]
pub struct Retrieved {
    /// Non-empty lists only, in the order visual, lexical, text dense.
    pub lists: Vec<(Signal, Vec<Ranked>)>,
    /// Every signal that ran, empty or not.
    pub runs: Vec<SignalRun>,
}

type Timed = (Result<Vec<Ranked>>, f64);

fn timed(f: impl FnOnce() -> Result<Vec<Ranked>>) -> Timed {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed().as_secs_f64() * 1000.0)
}

fn scored(list: Vec<loupe_store::Scored>) -> Result<Vec<Ranked>> {
    Ok(list
        .into_iter()
        .map(|s| (s.segment_id, s.asset_id, s.score))
        .collect())
}

/// The lexical signal: BM25 over names, paths and text.
pub fn lexical(index: &Index, text: &str, plan: &Plan) -> Result<Vec<Ranked>> {
    Ok(index
        .text()
        .search(text, &plan.filters, plan.depth)?
        .into_iter()
        .map(|h| (h.segment_id, h.asset_id, h.score))
        .collect())
}

/// The dense text signal: the sentence embedding of the query in the text space.
pub fn text_dense(
    index: &Index,
    model: &dyn SentenceEmbedder,
    text: &str,
    plan: &Plan,
) -> Result<Vec<Ranked>> {
    let v = model.embed_texts(&[text])?.into_iter().next().unwrap_or_default();
    scored(index.vectors().search(&VectorQuery {
        space: Space::Text,
        vector: &v,
        filters: &plan.filters,
        limit: plan.depth,
        score_threshold: Some(TEXT_DENSE_MIN),
    })?)
}

/// The visual signal: the query's point in the visual space (see [`query_vector`]).
pub fn visual(
    index: &Index,
    model: &dyn VisualEmbedder,
    plan: &Plan,
    image: Option<&ImageQuery>,
    score_threshold: Option<f32>,
) -> Result<Vec<Ranked>> {
    let v = query_vector(index, model, plan.text.as_deref(), image)?;
    scored(index.vectors().search(&VectorQuery {
        space: Space::Visual,
        vector: &v,
        filters: &plan.filters,
        limit: plan.depth,
        score_threshold,
    })?)
}

/// Runs the signals concurrently, each on its own thread: visual on the caller's, BM25 and dense
/// text (only with a query text; dense text only with a `text_model`) beside it. The first signal
/// error is returned.
pub fn run(
    index: &Index,
    visual_model: &dyn VisualEmbedder,
    text_model: Option<&dyn SentenceEmbedder>,
    plan: &Plan,
    req: &SearchRequest,
) -> Result<Retrieved> {
    let text = plan.text.as_deref();
    let (vis, lex, dense) = std::thread::scope(|s| {
        let lex = text.map(|t| s.spawn(move || timed(|| lexical(index, t, plan))));
        let dense = match (text, text_model) {
            (Some(t), Some(m)) => Some(s.spawn(move || timed(|| text_dense(index, m, t, plan)))),
            _ => None,
        };
        let vis = timed(|| visual(index, visual_model, plan, req.image.as_ref(), req.score_threshold));
        let join = |h: std::thread::ScopedJoinHandle<'_, Timed>| {
            h.join()
                .unwrap_or_else(|_| (Err(Error::Internal("a search signal panicked".into())), 0.0))
        };
        (vis, lex.map(join), dense.map(join))
    });
    let mut out = Retrieved::default();
    for (signal, run) in [
        (Signal::Visual, Some(vis)),
        (Signal::Lexical, lex),
        (Signal::TextDense, dense),
    ] {
        let Some((list, took_ms)) = run else { continue };
        let list = list?;
        out.runs.push(SignalRun {
            signal,
            took_ms,
            candidates: list.len(),
        });
        if !list.is_empty() {
            out.lists.push((signal, list));
        }
    }
    Ok(out)
}

/// Decodes an example image, within the same limits as indexing (a decompression bomb is refused).
pub fn decode_query_image(bytes: &[u8]) -> Result<image::DynamicImage> {
    loupe_media::decode_image(bytes, &loupe_media::DecodeLimits::default())
        .map(|d| d.image)
        .map_err(|reason| Error::BadImage(reason.to_string()))
}

/// The query's point in the visual space: text, image, or their normalised sum.
pub fn query_vector(
    index: &Index,
    model: &dyn VisualEmbedder,
    text: Option<&str>,
    image: Option<&ImageQuery>,
) -> Result<Vec<f32>> {
    let mut parts = Vec::new();
    if let Some(t) = text {
        parts.extend(model.embed_texts(&[t])?);
    }
    match image {
        None => {}
        Some(ImageQuery::Path { path }) => {
            let bytes = std::fs::read(path)
                .map_err(|e| Error::BadRequest(format!("cannot read image {path}: {e}")))?;
            parts.extend(model.embed_images(&[decode_query_image(&bytes)?])?);
        }
        Some(ImageQuery::Base64 { data }) => {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|e| Error::BadRequest(format!("image is not valid base64: {e}")))?;
            parts.extend(model.embed_images(&[decode_query_image(&bytes)?])?);
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
    Ok(normalised_sum(&parts))
}

/// The L2-normalised sum of vectors (empty for none).
pub fn normalised_sum(parts: &[Vec<f32>]) -> Vec<f32> {
    let dim = parts.first().map_or(0, Vec::len);
    let mut sum = vec![0f32; dim];
    for p in parts {
        for (s, x) in sum.iter_mut().zip(p) {
            *s += x;
        }
    }
    loupe_models::clip::l2_normalize(&mut sum);
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sum_of_vectors_is_normalised() {
        let s = normalised_sum(&[vec![1.0, 0.0], vec![0.0, 1.0]]);
        assert!((s[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert_eq!(s[0], s[1]);
        assert!(normalised_sum(&[]).is_empty());
    }

    #[test]
    fn a_bad_query_image_is_a_bad_image() {
        assert!(matches!(
            decode_query_image(b"not an image"),
            Err(Error::BadImage(_))
        ));
    }
}
