//! Questions and answers: `POST /v1/ask`, `loupe ask`, and the citations they return.

use crate::llm::{FinishReason, Usage};
use crate::{AssetId, AssetKind, Filters, ImageQuery, TimeRange, Uuid, WordBox};
use serde::{Deserialize, Serialize};

/// A question about the library.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AskRequest {
    pub question: String,
    /// An example image to search by as well (e.g. "where was this taken?").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageQuery>,
    /// The same filters as a search.
    #[serde(default)]
    pub filters: Filters,
    /// `extractive`, `local` or `openai`; the server's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answerer: Option<String>,
    /// How many search hits the answer may draw on.
    #[serde(default = "default_evidence")]
    pub max_evidence: usize,
    /// Hits scoring below this (fused score) are not used as evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_threshold: Option<f32>,
    /// Longest answer, in tokens (generative answerers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Answer with just the value, name or short phrase asked for (and its citation), not a
    /// sentence.
    #[serde(default)]
    pub brief: bool,
    /// Stream the answer as server-sent events: `citations`, then `token`s, then `done` with the
    /// whole [`AskResponse`] (or `error`).
    #[serde(default)]
    pub stream: bool,
}

pub fn default_evidence() -> usize {
    5
}

impl AskRequest {
    pub fn new(question: impl Into<String>) -> Self {
        Self {
            question: question.into(),
            image: None,
            filters: Filters::default(),
            answerer: None,
            max_evidence: default_evidence(),
            score_threshold: None,
            max_tokens: None,
            brief: false,
            stream: false,
        }
    }
}

/// One piece of evidence the answer was given, numbered as the answer cites it (`[n]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Citation {
    /// The number the answer uses, from 1.
    pub n: u32,
    /// Whether the answer cites it.
    pub cited: bool,
    pub asset_id: AssetId,
    pub kind: AssetKind,
    pub path: String,
    pub segment_id: Uuid,
    /// For a page: its number (from 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// For a video or recording: the time range (seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<TimeRange>,
    /// For a page: where the quoted words are (page fractions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub boxes: Vec<WordBox>,
    /// The text the answerer was shown from this source (or, for the extractive answerer, the
    /// passage it quotes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    /// Whether the answerer was shown the image itself (page, keyframe, photo).
    #[serde(default)]
    pub image_shown: bool,
    /// Where to open it: the file path with `#t=` or `#page=`.
    pub deep_link: String,
    /// The same place through the HTTP API.
    pub media_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    /// The search's fused score for this hit.
    pub score: f32,
}

/// Where the time went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AskTimings {
    /// Search and evidence preparation.
    pub retrieval_ms: f64,
    /// From the start of the request to the first piece of the answer.
    pub first_token_ms: f64,
    pub total_ms: f64,
    /// Generated tokens per second (generative answerers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_s: Option<f64>,
    /// Prompt tokens processed per second, not counting those reused from the local worker's
    /// cache (local answerer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_per_s: Option<f64>,
    /// Time the model spent on the prompt (local answerer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_ms: Option<f64>,
    /// Time the model spent generating after the first token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_ms: Option<f64>,
    /// Prompt tokens the local worker reused from its cache (the system prompt, and the evidence
    /// when consecutive questions are about the same pages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_prompt_tokens: Option<u32>,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AskResponse {
    pub answer: String,
    /// False when the library holds nothing that answers the question; `answer` then says so.
    pub found: bool,
    /// Which answerer answered (`extractive`, `local:<model>`, `openai:<model>`).
    pub answerer: String,
    /// Every piece of evidence the answerer was given, in the numbering the answer uses.
    pub citations: Vec<Citation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<FinishReason>,
    /// Passages left out of the evidence because they looked like instructions to the model
    /// (prompt injection), as `[n] text`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<String>,
    /// When the answerer answered but the sources do not support it (a number or claim not in
    /// them): what it said. `answer` then says "not found".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsupported_draft: Option<String>,
    /// When the question asks for a typed value (a date, an amount, a currency...) and the answer
    /// is one: the value in a standard form, and as the cited page writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<AnswerValue>,
    /// True when a generative answerer's answer to a typed question ("the invoice date") was not
    /// a value the page labels as asked, and the answer is the page's labelled value, read by the
    /// field reader (the extractive answerer) instead; the model's draft is in
    /// `unsupported_draft`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_fields: bool,
    pub timings: AskTimings,
}

/// A typed answer: one standard form for apps, and the document's own wording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AnswerValue {
    pub kind: ValueKind,
    /// ISO 8601 for a date (`2014-08-03`), a plain number for an amount (`1939.00`: no grouping,
    /// no currency, the decimals as printed), an ISO 4217 code for a currency (`INR`), as printed
    /// otherwise.
    pub value: String,
    /// The words on the page it was read from (`Aug 3, 2014`, `Rs. 1,939.00`, `₹`).
    pub as_written: String,
    /// For an amount: the currency printed with it (ISO 4217), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// What kind of value an answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    Date,
    Amount,
    Currency,
    Percent,
    Email,
    Url,
    Phone,
    Identifier,
}

/// The text of "nothing found".
pub const NOT_FOUND: &str = "Not found in the library.";
