//! loupe-answer: answers to questions about the library, grounded in what a search finds, with
//! numbered citations.
//!
//! The path of a question: [`evidence::gather`] searches (the same search and filters as
//! `/v1/search`), reads the text of each hit (OCR, text layer, transcript), keeps the passages that
//! bear on the question, withholds passages that read like instructions to a model (prompt
//! injection), and, for answerers that see images, renders the page, keyframe or photo (long side at
//! most 1568 px). An [`Answerer`] then answers from that evidence:
//!
//! - [`extractive::Extractive`]: no model; quotes the passage that best matches the question, with
//!   its boxes or time range. Always available.
//! - [`Generative`] over a [`ChatModel`]: [`local::LocalModel`] (a GGUF model in the `loupe-llm`
//!   worker process, llama.cpp) or [`openai::OpenAi`] (any OpenAI-compatible chat-completions
//!   server). The prompt marks the evidence as untrusted data and asks for `[n]` citations and for
//!   "NOT FOUND" when the evidence does not hold the answer.
//!
//! [`ask::ask`] ties it together and returns a `loupe_schemas::answer::AskResponse`.
//!
//! Not for: HTTP (loupe-server), ranking (loupe-query), running llama.cpp (loupe-llm).

pub mod ask;
pub mod cite;
pub mod config;
pub mod evidence;
pub mod extractive;
pub mod fields;
pub mod ground;
pub mod layout;
pub mod local;
pub mod openai;
pub mod prompt;
pub mod question;
pub mod scope;
pub mod text;

use loupe_schemas::ErrorCode;
use loupe_schemas::llm::{FinishReason, LlmTurn, Usage};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Query(#[from] loupe_query::Error),
    #[error(transparent)]
    Store(#[from] loupe_store::Error),
    #[error("{0}")]
    BadRequest(String),
    #[error("no answerer named '{name}' (available: {available})")]
    NoAnswerer { name: String, available: String },
    #[error("the local model: {0}")]
    Local(String),
    #[error("the OpenAI-compatible server at {url}: {message}")]
    Remote { url: String, message: String },
    #[error("{0}")]
    Config(String),
}

impl Error {
    /// A stable machine-readable code, the same on the command line and over HTTP.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Query(e) => e.code(),
            Self::Store(e) => e.code(),
            Self::BadRequest(_) | Self::NoAnswerer { .. } => ErrorCode::BadRequest,
            Self::Local(_) | Self::Remote { .. } => ErrorCode::AnswererFailed,
            Self::Config(_) => ErrorCode::Config,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Whether the consumer of a stream wants more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// The consumer is gone (e.g. the HTTP client disconnected): stop generating.
    Stop,
}

/// What a generation produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub text: String,
    pub usage: Option<Usage>,
    pub finish: FinishReason,
    /// Milliseconds from the call to the first piece of text.
    pub first_token_ms: Option<f64>,
    /// Milliseconds spent producing tokens after the first (for tokens/s).
    pub generate_ms: Option<f64>,
    /// Milliseconds spent processing the prompt (local model).
    pub prompt_ms: Option<f64>,
    /// Prompt tokens the local worker reused from its cache instead of processing them.
    pub cached_tokens: Option<u32>,
}

impl Generation {
    /// Prompt tokens processed per second (the cached ones not counted, as they took no time).
    pub fn prompt_tokens_per_s(&self) -> Option<f64> {
        let cached = self.cached_tokens.unwrap_or(0);
        let processed = self.usage?.prompt_tokens.saturating_sub(cached);
        let ms = self.prompt_ms?;
        (ms > 0.0 && processed > 0).then(|| f64::from(processed) / (ms / 1000.0))
    }

    /// Generated tokens per second, after the first.
    pub fn tokens_per_s(&self) -> Option<f64> {
        let completion = self.usage?.completion_tokens;
        let ms = self.generate_ms?;
        (ms > 0.0 && completion > 1).then(|| f64::from(completion - 1) / (ms / 1000.0))
    }
}

/// Settings of one generation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenOptions {
    pub max_tokens: u32,
    /// 0 = greedy.
    pub temperature: f32,
}

impl Default for GenOptions {
    fn default() -> Self {
        Self {
            max_tokens: 256,
            temperature: 0.0,
        }
    }
}

/// A language model that continues a chat: the local worker or a remote server.
pub trait ChatModel: Send + Sync {
    /// `local:<model>` or `openai:<model>`.
    fn name(&self) -> String;
    /// Whether turns may carry images.
    fn vision(&self) -> bool;
    /// How much evidence text fits the model's context, in characters.
    fn evidence_budget(&self) -> usize;
    /// The prompt style that suits the model.
    fn style(&self) -> prompt::Style {
        prompt::Style::Strict
    }
    fn chat(
        &self,
        turns: &[LlmTurn],
        opts: &GenOptions,
        on_text: &mut dyn FnMut(&str) -> Flow,
    ) -> Result<Generation>;
}

/// What an answerer is asked.
#[derive(Debug, Clone)]
pub struct Task<'a> {
    pub question: &'a str,
    /// Earlier turns of a conversation (user questions and the answers given), oldest first.
    pub history: &'a [LlmTurn],
    pub evidence: &'a [evidence::Evidence],
    pub opts: GenOptions,
    /// Just the value asked for, not a sentence.
    pub brief: bool,
}

/// Something that answers a question from evidence.
pub trait Answerer: Send + Sync {
    fn name(&self) -> String;
    /// Whether it looks at evidence images.
    fn vision(&self) -> bool;
    /// Evidence text it can take, in characters.
    fn evidence_budget(&self) -> usize;
    fn answer(&self, task: &Task<'_>, on_text: &mut dyn FnMut(&str) -> Flow) -> Result<Generation>;
}

/// A chat model answering from a prompt built by [`prompt::messages`].
pub struct Generative {
    pub model: std::sync::Arc<dyn ChatModel>,
}

impl Answerer for Generative {
    fn name(&self) -> String {
        self.model.name()
    }
    fn vision(&self) -> bool {
        self.model.vision()
    }
    fn evidence_budget(&self) -> usize {
        self.model.evidence_budget()
    }
    fn answer(&self, task: &Task<'_>, on_text: &mut dyn FnMut(&str) -> Flow) -> Result<Generation> {
        let turns = prompt::messages(task, self.model.vision(), self.model.style());
        if tracing::enabled!(tracing::Level::DEBUG) {
            for t in &turns {
                tracing::debug!(
                    role = t.role.as_str(),
                    images = t.images.len(),
                    "prompt turn:\n{}",
                    t.content
                );
            }
        }
        self.model.chat(&turns, &task.opts, on_text)
    }
}

/// The answerers a process has, by name (`extractive`, `local`, `openai`), and the default.
pub struct Answerers {
    list: Vec<(String, std::sync::Arc<dyn Answerer>)>,
    /// The bare chat models behind the generative answerers (for OpenAI-compatible chat without
    /// retrieval).
    chat: Vec<(String, std::sync::Arc<dyn ChatModel>)>,
    local: Option<std::sync::Arc<local::LocalModel>>,
    default: String,
}

impl Answerers {
    /// Starts with the extractive answerer, which is always there.
    pub fn new() -> Self {
        Self {
            list: vec![("extractive".into(), std::sync::Arc::new(extractive::Extractive))],
            chat: Vec::new(),
            local: None,
            default: "extractive".into(),
        }
    }

    pub fn add(&mut self, name: &str, a: std::sync::Arc<dyn Answerer>) {
        self.list.retain(|(n, _)| n != name);
        self.list.push((name.to_string(), a));
    }

    /// Adds a chat model as the generative answerer `name` and as a bare chat model.
    pub fn add_chat(&mut self, name: &str, m: std::sync::Arc<dyn ChatModel>) {
        self.add(name, std::sync::Arc::new(Generative { model: m.clone() }));
        self.chat.retain(|(n, _)| n != name);
        self.chat.push((name.to_string(), m));
    }

    /// Adds the local model (see [`Answerers::warm_up`]).
    pub fn add_local(&mut self, m: local::LocalModel) {
        let m = std::sync::Arc::new(m);
        self.add_chat("local", m.clone());
        self.local = Some(m);
    }

    /// Starts the local model's worker now, if there is a local model.
    pub fn warm_up(&self) -> Result<()> {
        match &self.local {
            Some(m) => m.warm_up(),
            None => Ok(()),
        }
    }

    /// The bare chat model `name` (`local`, `openai`).
    pub fn chat_model(&self, name: &str) -> Option<std::sync::Arc<dyn ChatModel>> {
        self.chat.iter().find(|(n, _)| n == name).map(|(_, m)| m.clone())
    }

    /// Names of the bare chat models.
    pub fn chat_names(&self) -> Vec<String> {
        self.chat.iter().map(|(n, _)| n.clone()).collect()
    }

    pub fn set_default(&mut self, name: &str) -> Result<()> {
        self.get(Some(name))?;
        self.default = name.to_string();
        Ok(())
    }

    pub fn default_name(&self) -> &str {
        &self.default
    }

    pub fn names(&self) -> Vec<String> {
        self.list.iter().map(|(n, _)| n.clone()).collect()
    }

    /// The named answerer, or the default.
    pub fn get(&self, name: Option<&str>) -> Result<std::sync::Arc<dyn Answerer>> {
        let name = name.unwrap_or(&self.default);
        self.list
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| a.clone())
            .ok_or_else(|| Error::NoAnswerer {
                name: name.to_string(),
                available: self.names().join(", "),
            })
    }
}

impl Default for Answerers {
    fn default() -> Self {
        Self::new()
    }
}
