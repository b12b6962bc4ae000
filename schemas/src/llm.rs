//! The wire protocol between Loupe and its local model worker, `loupe-llm`.
//!
//! llama.cpp (for the local answerer) and whisper.cpp (for speech) each carry their own copy of
//! ggml; linked into one binary they clash. So the local model runs in its own process, which also
//! keeps a model crash or an out-of-memory kill away from the server. The parent writes one
//! [`LlmRequest`] per line on the worker's stdin and reads [`LlmEvent`]s, one per line, from its
//! stdout; a [`LlmControl::Cancel`] line stops the generation in progress.

use serde::{Deserialize, Serialize};

/// Who said a chat turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

/// One chat turn for the worker: text, and the images that go before it (for a model with a vision
/// projector).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmTurn {
    pub role: Role,
    pub content: String,
    /// Encoded image files (JPEG or PNG), base64, standard alphabet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
}

/// One generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmRequest {
    pub turns: Vec<LlmTurn>,
    pub max_tokens: u32,
    /// 0 = greedy (deterministic).
    #[serde(default)]
    pub temperature: f32,
    #[serde(default)]
    pub seed: u32,
    /// Generation stops before any of these strings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
}

/// A line the parent may send while a generation runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "control", rename_all = "snake_case")]
pub enum LlmControl {
    Cancel,
}

/// Why a generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended its turn or hit a stop string.
    Stop,
    /// `max_tokens` reached.
    Length,
    /// The caller cancelled.
    Cancelled,
}

/// Token counts of one generation, as OpenAI reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
}

/// A line from the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LlmEvent {
    /// The model is loaded (first line after start).
    Ready {
        model: String,
        /// Whether a vision projector is loaded, so turns may carry images.
        vision: bool,
        n_ctx: u32,
    },
    /// Generated text, in order (whole UTF-8 characters).
    Token { text: String },
    /// The generation ended.
    Done {
        finish_reason: FinishReason,
        usage: Usage,
        /// Prompt processing time.
        prompt_ms: f64,
        /// Time spent generating tokens after the first.
        generate_ms: f64,
        /// Prompt tokens reused from the worker's cache (a prefix shared with an earlier request)
        /// rather than processed: `prompt_ms` covers `usage.prompt_tokens - cached_tokens`.
        #[serde(default)]
        cached_tokens: u32,
    },
    /// The request could not be served; the worker waits for the next one.
    Error { message: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_from_a_worker_without_cache_reports_parses() {
        let line = r#"{"event":"done","finish_reason":"stop","usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11},"prompt_ms":5.0,"generate_ms":1.0}"#;
        match serde_json::from_str::<LlmEvent>(line).unwrap() {
            LlmEvent::Done {
                cached_tokens, usage, ..
            } => {
                assert_eq!(cached_tokens, 0);
                assert_eq!(usage.prompt_tokens, 9);
            }
            other => panic!("{other:?}"),
        }
    }
}
