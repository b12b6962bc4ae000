//! loupe-query: a [`SearchRequest`](loupe_schemas::SearchRequest) in, ranked
//! [`Hit`](loupe_schemas::Hit)s out.
//!
//! A [`Searcher`] owns the query side: the Index (shared), the query encoders (behind the
//! [`VisualEmbedder`] and [`SentenceEmbedder`] traits, so tests use the fake) and a [`Links`]
//! builder for the hits' URLs. [`Searcher::search`] runs small steps, one module each:
//!
//! 1. [`plan`]: check the request (something to search for, page, ranges, cursor) and resolve the
//!    filters;
//! 2. [`retrieve`]: run the signals concurrently (dense visual and dense text in Qdrant, BM25 in
//!    tantivy), each with the filters applied inside the engine;
//! 3. [`fusion`]: RRF, or a weighted sum of min-max normalised scores, keeping each signal's rank
//!    and score for `explain`; then [`hydrate::hits`] reads the assets from the catalog;
//! 4. [`group`]: per segment, per moment or per asset;
//! 5. the page ([`plan::Plan::page`]), then [`hydrate::finish`]: highlighted snippets, matched word
//!    boxes, spoken hits landed on the first matched word, links.
//!
//! `score_threshold` is the minimum cosine similarity for a hit to come through the visual signal (an
//! absolute, comparable number); lexical hits qualify by matching; dense text hits need a cosine of
//! at least [`TEXT_DENSE_MIN`] (unrelated sentences score below it with MiniLM), so a visual query
//! is not padded with transcripts that merely exist.
//!
//! Not for: indexing, HTTP (the server wraps this and gives the route strings as [`Links`]),
//! loading models (the `loupe` command builds a `ModelSet`), or answer generation.

pub mod fusion;
pub mod group;
pub mod hydrate;
pub mod plan;
pub mod retrieve;
mod searcher;

pub use group::{MOMENT_GAP_S, MOMENT_HORIZON, group};
pub use hydrate::{WORD_LEAD_IN_S, first_matched_word, matched_boxes};
pub use plan::{MAX_LIMIT, MAX_OFFSET};
pub use retrieve::{TEXT_DENSE_MIN, decode_query_image};
pub use searcher::{Links, NoLinks, Searcher};

pub use loupe_models::{SentenceEmbedder, VisualEmbedder};
use loupe_schemas::ErrorCode;

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
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BadRequest(_) => ErrorCode::BadRequest,
            Self::Store(e) => e.code(),
            Self::Model(_) => ErrorCode::ModelError,
            Self::Internal(_) => ErrorCode::Internal,
            Self::BadImage(_) => ErrorCode::BadImage,
            Self::NotFound(_) => ErrorCode::NotFound,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
