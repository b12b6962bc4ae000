//! loupe-query: a [`SearchRequest`] in, ranked [`Hit`]s out.
//!
//! request -> encode the query once (CLIP text tower, image tower, or a stored vector for "find
//! similar") -> run the signals (dense visual in Qdrant, BM25 in tantivy), each with the filters
//! applied inside the engine -> fuse (RRF, or a weighted sum of min-max normalised scores), keeping
//! each signal's rank and score for `explain` -> paginate -> hydrate assets from the catalog.
//!
//! `score_threshold` is the minimum cosine similarity for a hit to come through the visual signal (an
//! absolute, comparable number); lexical hits qualify by matching.
//!
//! Not for: indexing, HTTP (the server wraps this), or answer generation.

pub mod fusion;

use loupe_models::ClipModel;
use loupe_models::media::{DecodeLimits, decode_image};
use loupe_schemas::{Hit, ImageQuery, Locator, SearchRequest, SearchResponse, Segment, Signal, SignalScore};
use loupe_store::{Index, Space, VectorQuery};
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
}

impl Error {
    /// Stable machine-readable code for JSON error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Store(e) => e.code(),
            Self::Model(_) => "model_error",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Largest `limit` a request may ask for.
pub const MAX_LIMIT: usize = 1000;

/// Runs one search.
pub fn search(index: &Index, model: &ClipModel, req: &SearchRequest) -> Result<SearchResponse> {
    let started = Instant::now();
    index.check_model(&model.id())?;
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
    // Each signal looks deeper than the page so fusion has material to work with.
    let depth = ((req.offset + req.limit) * 3).max(50);

    let query_vector = query_vector(index, model, text, req.image.as_ref())?;
    let visual = index.vectors().search(&VectorQuery {
        space: Space::Visual,
        vector: &query_vector,
        filters: &req.filters,
        limit: depth,
        score_threshold: req.score_threshold,
    })?;
    let lexical = match text {
        Some(t) => index.text().search(t, &req.filters, depth)?,
        None => Vec::new(),
    };

    let mut lists = vec![(
        Signal::Visual,
        visual
            .iter()
            .map(|s| (s.segment_id, s.asset_id.clone(), s.score))
            .collect::<Vec<_>>(),
    )];
    if !lexical.is_empty() {
        lists.push((
            Signal::Lexical,
            lexical
                .iter()
                .map(|s| (s.segment_id, s.asset_id.clone(), s.score))
                .collect(),
        ));
    }
    let fused = fusion::fuse(&lists, &req.fusion);

    let mut hits = Vec::new();
    for f in fused.into_iter().skip(req.offset).take(req.limit) {
        let Some(rec) = index.asset(&f.asset_id)? else {
            // Written to the engines but not (yet) committed to the catalog: not a result.
            continue;
        };
        hits.push(Hit {
            score: f.score,
            segment: Segment {
                id: f.segment_id,
                asset_id: f.asset_id,
                locator: Locator::Whole,
            },
            asset: rec.asset,
            signals: f
                .signals
                .into_iter()
                .map(|(signal, rank, score)| SignalScore { signal, rank, score })
                .collect(),
        });
    }
    Ok(SearchResponse {
        hits,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
        fusion: req.fusion.clone(),
        visual_model: model.id(),
    })
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
            let decoded = decode_image(&bytes, &DecodeLimits::default())
                .map_err(|reason| Error::BadRequest(format!("image {path}: {reason}")))?;
            parts.extend(model.vision.embed(&[decoded.image])?);
        }
        Some(ImageQuery::Asset { id }) => {
            let segment = Segment::new(id.clone(), Locator::Whole);
            let v = index
                .vectors()
                .vector(segment.id, Space::Visual)?
                .ok_or_else(|| Error::BadRequest(format!("asset {id} is not in the index")))?;
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
