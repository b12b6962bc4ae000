//! Answers over HTTP: `POST /v1/ask` (JSON or server-sent events), and the OpenAI-compatible
//! `POST /v1/chat/completions` and `GET /v1/models`, so existing OpenAI clients can talk to the
//! library.
//!
//! Chat models: `loupe` (retrieval + the default answerer), `loupe-<answerer>` (retrieval + that
//! answerer: `loupe-extractive`, `loupe-local`, `loupe-openai`), and the bare chat models
//! (`local`, `openai`), which pass the conversation straight to the model without retrieval.
//! Answer work runs on blocking threads under its own permits (`answer_concurrency`), so long
//! generations never starve searches.

use crate::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use loupe_answer::ask::{AskEvent, History};
use loupe_answer::{Flow, GenOptions};
use loupe_schemas::answer::{AskRequest, AskResponse, Citation};
use loupe_schemas::llm::{LlmTurn, Role, Usage};
use loupe_schemas::{ErrorBody, ErrorCode, Filters, ImageQuery};
use serde::Deserialize;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::mpsc;

type S = State<Arc<AppState>>;

impl From<loupe_answer::Error> for ApiError {
    fn from(e: loupe_answer::Error) -> Self {
        use loupe_answer::Error as A;
        let code = e.code();
        let message = match e {
            A::Query(q) => return q.into(),
            A::Store(s) => return s.into(),
            A::BadRequest(m) | A::Config(m) => m,
            A::NoAnswerer { .. } | A::Local(_) | A::Remote { .. } => e.to_string(),
        };
        Self::new(code, message)
    }
}

/// A permit to run answer work, or 503 when too many wait.
async fn answer_permit(
    s: &Arc<AppState>,
) -> Result<
    (
        tokio::sync::OwnedSemaphorePermit,
        tokio::sync::OwnedSemaphorePermit,
    ),
    ApiError,
> {
    let Ok(queued) = s.answer_queue.clone().try_acquire_owned() else {
        s.metrics.rejected();
        return Err(ApiError::new(
            ErrorCode::Overloaded,
            "too many questions are waiting; try again shortly",
        ));
    };
    let permit = s
        .answer_permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::internal("answer permits closed"))?;
    Ok((queued, permit))
}

/// Runs an ask (on a blocking thread), reporting its events to `on_event`.
fn run_ask(
    st: &AppState,
    req: &AskRequest,
    history: &History,
    on_event: &mut dyn FnMut(AskEvent<'_>) -> Flow,
) -> Result<AskResponse, loupe_answer::Error> {
    let answerer = st.models.answerers.get(req.answerer.as_deref())?;
    loupe_answer::ask::ask(&st.searcher, answerer.as_ref(), req, history, on_event)
}

/// Sends an item from a blocking thread. A closed channel means the client went away: stop
/// generating.
fn forward<T>(tx: &mpsc::Sender<T>, item: T) -> Flow {
    if tx.blocking_send(item).is_err() {
        Flow::Stop
    } else {
        Flow::Continue
    }
}

enum AskStreamItem {
    Citations(Vec<Citation>),
    Token(String),
    Done(Box<AskResponse>),
    Error(ApiError),
}

fn sse_from(rx: mpsc::Receiver<Event>) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

fn json_event(name: &str, v: &impl serde::Serialize) -> Event {
    Event::default()
        .event(name)
        .data(serde_json::to_string(v).unwrap_or_else(|_| "{}".into()))
}

pub async fn ask(State(s): S, body: axum::body::Bytes) -> Result<Response, ApiError> {
    let req: AskRequest =
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("bad request: {e}")))?;
    crate::routes::refuse_path_image(req.image.as_ref(), "send the image as base64 or name an asset")?;
    s.models
        .answerers
        .get(req.answerer.as_deref())
        .map_err(ApiError::from)?;
    let permits = answer_permit(&s).await?;
    let deadline = s.config.answer_timeout();
    if !req.stream {
        let st = s.clone();
        let task = tokio::task::spawn_blocking(move || {
            let _p = permits;
            run_ask(&st, &req, &History::default(), &mut |_| Flow::Continue)
        });
        let resp = match tokio::time::timeout(deadline, task).await {
            Err(_) => {
                return Err(ApiError::new(ErrorCode::Timeout, "the answer took too long"));
            }
            Ok(Err(e)) => return Err(ApiError::internal(format!("the answer failed: {e}"))),
            Ok(Ok(r)) => r?,
        };
        s.metrics.answer(&resp);
        return Ok(Json(resp).into_response());
    }
    let (tx, mut rx) = mpsc::channel::<AskStreamItem>(256);
    let st = s.clone();
    tokio::task::spawn_blocking(move || {
        let _p = permits;
        let item = match run_ask(&st, &req, &History::default(), &mut |ev| {
            let item = match ev {
                AskEvent::Citations(c) => AskStreamItem::Citations(c.to_vec()),
                AskEvent::Token(t) => AskStreamItem::Token(t.to_string()),
            };
            forward(&tx, item)
        }) {
            Ok(r) => {
                st.metrics.answer(&r);
                AskStreamItem::Done(Box::new(r))
            }
            Err(e) => AskStreamItem::Error(e.into()),
        };
        let _ = tx.blocking_send(item);
    });
    let (etx, erx) = mpsc::channel::<Event>(256);
    tokio::spawn(async move {
        let end = tokio::time::Instant::now() + deadline;
        loop {
            let item = match tokio::time::timeout_at(end, rx.recv()).await {
                Ok(Some(i)) => i,
                Ok(None) => break,
                Err(_) => AskStreamItem::Error(ApiError::new(ErrorCode::Timeout, "the answer took too long")),
            };
            let (ev, last) = match item {
                AskStreamItem::Citations(c) => (json_event("citations", &c), false),
                AskStreamItem::Token(t) => (json_event("token", &serde_json::json!({ "text": t })), false),
                AskStreamItem::Done(r) => (json_event("done", &*r), true),
                AskStreamItem::Error(e) => (
                    json_event(
                        "error",
                        &ErrorBody {
                            code: e.code,
                            message: e.message,
                        },
                    ),
                    true,
                ),
            };
            if etx.send(ev).await.is_err() || last {
                break; // dropping `rx` tells the generation to stop
            }
        }
    });
    Ok(sse_from(erx).into_response())
}

// ---- OpenAI-compatible chat -------------------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    #[serde(default)]
    model: Option<String>,
    messages: Vec<ChatMessage>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    max_completion_tokens: Option<u32>,
    #[serde(default)]
    temperature: Option<f32>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    /// Loupe's extension: search filters for the retrieval models.
    #[serde(default)]
    filters: Option<Filters>,
}

#[derive(Debug, Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Debug, Deserialize)]
struct ChatMessage {
    role: String,
    #[serde(default)]
    content: Option<Content>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Part {
    Text {
        text: String,
    },
    ImageUrl {
        image_url: ImageUrl,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
struct ImageUrl {
    url: String,
}

/// OpenAI's error types for the failures only the OpenAI-compatible route has (its clients expect
/// these words); every other error there carries an [`ErrorCode`] as its type and code.
const OAI_INVALID_REQUEST: &str = "invalid_request_error";
const OAI_MODEL_NOT_FOUND: &str = "model_not_found";

/// An OpenAI-shaped error.
fn oai_error(status: StatusCode, kind: &str, message: impl Into<String>) -> Response {
    let m = message.into();
    (
        status,
        Json(serde_json::json!({"error": {"message": m, "type": kind, "code": kind}})),
    )
        .into_response()
}

fn oai_from(e: ApiError) -> Response {
    oai_error(e.status, e.code.as_str(), e.message)
}

/// Text and images (base64) of a message.
/// Errors are messages for an `invalid_request_error`.
fn split_content(c: &Option<Content>) -> Result<(String, Vec<String>), &'static str> {
    match c {
        None => Ok((String::new(), Vec::new())),
        Some(Content::Text(t)) => Ok((t.clone(), Vec::new())),
        Some(Content::Parts(parts)) => {
            let mut text = Vec::new();
            let mut images = Vec::new();
            for p in parts {
                match p {
                    Part::Text { text: t } => text.push(t.clone()),
                    Part::ImageUrl { image_url } => {
                        let Some(data) = image_url
                            .url
                            .strip_prefix("data:")
                            .and_then(|r| r.split_once(";base64,"))
                            .map(|(_, d)| d)
                        else {
                            return Err(
                                "images must be data: URLs (base64); Loupe fetches nothing from the network",
                            );
                        };
                        if base64::engine::general_purpose::STANDARD.decode(data).is_err() {
                            return Err("an image is not valid base64");
                        }
                        images.push(data.to_string());
                    }
                    Part::Other => {}
                }
            }
            Ok((text.join("\n"), images))
        }
    }
}

fn role_of(r: &str) -> Option<Role> {
    match r {
        "system" | "developer" => Some(Role::System),
        "user" => Some(Role::User),
        "assistant" => Some(Role::Assistant),
        _ => None,
    }
}

pub async fn models(State(s): S) -> Response {
    let mut ids = vec!["loupe".to_string()];
    ids.extend(
        s.models
            .answerers
            .names()
            .into_iter()
            .map(|n| format!("loupe-{n}")),
    );
    ids.extend(s.models.answerers.chat_names());
    let data: Vec<_> = ids
        .into_iter()
        .map(|id| serde_json::json!({"id": id, "object": "model", "created": 0, "owned_by": "loupe"}))
        .collect();
    Json(serde_json::json!({"object": "list", "data": data})).into_response()
}

/// What a chat request runs.
enum ChatMode {
    /// Retrieval, then this answerer (None: the default).
    Rag(Option<String>),
    /// The bare model, no retrieval.
    Bare(Arc<dyn loupe_answer::ChatModel>),
}

/// Pieces streamed from the blocking task.
enum ChatItem {
    Token(String),
    Done {
        /// The final answer of a retrieval answer (it may differ from the streamed text: an
        /// unsupported draft becomes "not found").
        answer: Option<String>,
        /// Streamed after the tokens when the final answer differs from them.
        correction: String,
        footer: String,
        usage: Option<Usage>,
        citations: Vec<Citation>,
        finish: &'static str,
    },
    Error(ApiError),
}

pub async fn chat_completions(State(s): S, body: axum::body::Bytes) -> Response {
    let req: ChatRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return oai_error(
                StatusCode::BAD_REQUEST,
                OAI_INVALID_REQUEST,
                format!("bad request: {e}"),
            );
        }
    };
    let model = req.model.clone().unwrap_or_else(|| "loupe".into());
    let mode = if model == "loupe" {
        ChatMode::Rag(None)
    } else if let Some(a) = model.strip_prefix("loupe-") {
        if s.models.answerers.get(Some(a)).is_err() {
            return oai_error(
                StatusCode::NOT_FOUND,
                OAI_MODEL_NOT_FOUND,
                format!("no model '{model}' (see GET /v1/models)"),
            );
        }
        ChatMode::Rag(Some(a.to_string()))
    } else if let Some(m) = s.models.answerers.chat_model(&model) {
        ChatMode::Bare(m)
    } else {
        return oai_error(
            StatusCode::NOT_FOUND,
            OAI_MODEL_NOT_FOUND,
            format!("no model '{model}' (see GET /v1/models)"),
        );
    };
    // The conversation.
    let mut turns: Vec<LlmTurn> = Vec::new();
    for m in &req.messages {
        let Some(role) = role_of(&m.role) else { continue }; // tool messages etc.
        let (text, images) = match split_content(&m.content) {
            Ok(x) => x,
            Err(m) => return oai_error(StatusCode::BAD_REQUEST, OAI_INVALID_REQUEST, m),
        };
        turns.push(LlmTurn {
            role,
            content: text,
            images,
        });
    }
    let Some(last) = turns.last().filter(|t| t.role == Role::User).cloned() else {
        return oai_error(
            StatusCode::BAD_REQUEST,
            OAI_INVALID_REQUEST,
            "the last message must be the user's",
        );
    };
    let opts = GenOptions {
        max_tokens: req
            .max_completion_tokens
            .or(req.max_tokens)
            .unwrap_or(512)
            .clamp(1, 4096),
        temperature: req.temperature.unwrap_or(0.0).clamp(0.0, 2.0),
    };
    let permits = match answer_permit(&s).await {
        Ok(p) => p,
        Err(e) => return oai_from(e),
    };
    let (tx, rx) = mpsc::channel::<ChatItem>(256);
    let st = s.clone();
    let filters = req.filters.clone().unwrap_or_default();
    tokio::task::spawn_blocking(move || {
        let _p = permits;
        let item = match mode {
            ChatMode::Bare(m) => {
                match m.chat(&turns, &opts, &mut |t| {
                    forward(&tx, ChatItem::Token(t.to_string()))
                }) {
                    Ok(g) => ChatItem::Done {
                        answer: None,
                        correction: String::new(),
                        footer: String::new(),
                        usage: g.usage,
                        citations: Vec::new(),
                        finish: finish_str(g.finish),
                    },
                    Err(e) => ChatItem::Error(e.into()),
                }
            }
            ChatMode::Rag(answerer) => {
                let earlier: Vec<&LlmTurn> = turns[..turns.len() - 1].iter().collect();
                let history = History {
                    questions: earlier
                        .iter()
                        .rev()
                        .filter(|t| t.role == Role::User && !t.content.trim().is_empty())
                        .map(|t| t.content.clone())
                        .collect(),
                    turns: earlier
                        .iter()
                        .filter(|t| t.role != Role::System)
                        .map(|t| LlmTurn {
                            role: t.role,
                            content: t.content.clone(),
                            images: Vec::new(),
                        })
                        .collect(),
                };
                let mut ask_req = AskRequest::new(last.content.clone());
                ask_req.image = last
                    .images
                    .first()
                    .map(|d| ImageQuery::Base64 { data: d.clone() });
                ask_req.answerer = answerer;
                ask_req.filters = filters;
                ask_req.max_tokens = Some(opts.max_tokens);
                match run_ask(&st, &ask_req, &history, &mut |ev| match ev {
                    AskEvent::Citations(_) => Flow::Continue,
                    AskEvent::Token(t) => forward(&tx, ChatItem::Token(t.to_string())),
                }) {
                    Ok(r) => {
                        st.metrics.answer(&r);
                        ChatItem::Done {
                            correction: if r.unsupported_draft.is_some() {
                                format!(
                                    "\n\n{} (the text above is not supported by the sources)",
                                    loupe_schemas::answer::NOT_FOUND
                                )
                            } else {
                                String::new()
                            },
                            answer: Some(r.answer.clone()),
                            footer: sources_footer(&r),
                            usage: r.usage,
                            citations: r.citations,
                            finish: r.finish_reason.map_or("stop", finish_str),
                        }
                    }
                    Err(e) => ChatItem::Error(e.into()),
                }
            }
        };
        let _ = tx.blocking_send(item);
    });
    let id = format!("chatcmpl-{:016x}", rand_id());
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
    let deadline = s.config.answer_timeout();
    if req.stream {
        stream_chat(rx, id, created, model, include_usage, deadline).into_response()
    } else {
        collect_chat(rx, id, created, model, deadline).await
    }
}

fn finish_str(f: loupe_schemas::llm::FinishReason) -> &'static str {
    match f {
        loupe_schemas::llm::FinishReason::Length => "length",
        _ => "stop",
    }
}

/// "Sources:" lines for the cited sources, appended to a chat answer so any client shows them.
fn sources_footer(r: &AskResponse) -> String {
    let cited: Vec<&Citation> = r.citations.iter().filter(|c| c.cited).collect();
    if cited.is_empty() {
        return String::new();
    }
    let mut s = String::from("\n\nSources:");
    for c in cited {
        s.push_str(&format!("\n[{}] {}", c.n, c.deep_link));
    }
    s
}

fn rand_id() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    loupe_schemas::fnv1a64(&t.to_le_bytes())
}

fn chunk(
    id: &str,
    created: u64,
    model: &str,
    delta: serde_json::Value,
    finish: Option<&str>,
) -> serde_json::Value {
    serde_json::json!({
        "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    })
}

fn stream_chat(
    mut rx: mpsc::Receiver<ChatItem>,
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    deadline: std::time::Duration,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let (etx, erx) = mpsc::channel::<Event>(256);
    tokio::spawn(async move {
        let data = |v: serde_json::Value| Event::default().data(v.to_string());
        let first = chunk(
            &id,
            created,
            &model,
            serde_json::json!({"role": "assistant", "content": ""}),
            None,
        );
        if etx.send(data(first)).await.is_err() {
            return;
        }
        let end = tokio::time::Instant::now() + deadline;
        loop {
            let item = match tokio::time::timeout_at(end, rx.recv()).await {
                Ok(Some(i)) => i,
                Ok(None) => break,
                Err(_) => ChatItem::Error(ApiError::new(ErrorCode::Timeout, "the answer took too long")),
            };
            match item {
                ChatItem::Token(t) => {
                    if etx
                        .send(data(chunk(
                            &id,
                            created,
                            &model,
                            serde_json::json!({"content": t}),
                            None,
                        )))
                        .await
                        .is_err()
                    {
                        return; // client gone; dropping rx stops the generation
                    }
                }
                ChatItem::Done {
                    correction,
                    footer,
                    usage,
                    citations,
                    finish,
                    ..
                } => {
                    let tail = format!("{correction}{footer}");
                    if !tail.is_empty() {
                        let _ = etx
                            .send(data(chunk(
                                &id,
                                created,
                                &model,
                                serde_json::json!({"content": tail}),
                                None,
                            )))
                            .await;
                    }
                    let mut last = chunk(&id, created, &model, serde_json::json!({}), Some(finish));
                    if !citations.is_empty() {
                        last["citations"] = serde_json::to_value(&citations).unwrap_or_default();
                    }
                    let _ = etx.send(data(last)).await;
                    if include_usage {
                        let u = serde_json::json!({
                            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                            "choices": [], "usage": usage.unwrap_or_default(),
                        });
                        let _ = etx.send(data(u)).await;
                    }
                    break;
                }
                ChatItem::Error(e) => {
                    let _ = etx
                        .send(data(serde_json::json!({"error": {"message": e.message, "type": e.code.as_str(), "code": e.code.as_str()}})))
                        .await;
                    break;
                }
            }
        }
        let _ = etx.send(Event::default().data("[DONE]")).await;
    });
    sse_from(erx)
}

async fn collect_chat(
    mut rx: mpsc::Receiver<ChatItem>,
    id: String,
    created: u64,
    model: String,
    deadline: std::time::Duration,
) -> Response {
    let mut text = String::new();
    let end = tokio::time::Instant::now() + deadline;
    loop {
        let item = match tokio::time::timeout_at(end, rx.recv()).await {
            Ok(Some(i)) => i,
            Ok(None) => {
                return oai_from(ApiError::internal("the answer ended early"));
            }
            Err(_) => return oai_from(ApiError::new(ErrorCode::Timeout, "the answer took too long")),
        };
        match item {
            ChatItem::Token(t) => text.push_str(&t),
            ChatItem::Error(e) => return oai_from(e),
            ChatItem::Done {
                answer,
                footer,
                usage,
                citations,
                finish,
                ..
            } => {
                // A retrieval answer's final text (grounding may have replaced the draft); the
                // bare model's is what it generated.
                let content = answer.unwrap_or_else(|| text.trim().to_string());
                let mut body = serde_json::json!({
                    "id": id, "object": "chat.completion", "created": created, "model": model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": format!("{content}{footer}")},
                                 "finish_reason": finish}],
                    "usage": usage.unwrap_or_default(),
                });
                if !citations.is_empty() {
                    body["citations"] = serde_json::to_value(&citations).unwrap_or_default();
                }
                return Json(body).into_response();
            }
        }
    }
}
