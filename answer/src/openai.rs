//! An OpenAI-compatible chat-completions server as the answerer's model: OpenAI, vLLM, llama.cpp's
//! server, Ollama, or another Loupe. Streams (SSE), sends images as data URLs, retries 429 and 5xx
//! with exponential backoff (honouring `Retry-After`) as long as nothing has been streamed yet, and
//! records token usage.

use crate::{ChatModel, Error, Flow, GenOptions, Generation, Result};
use loupe_schemas::llm::{FinishReason, LlmTurn, Usage};
use serde::{Deserialize, Serialize};
use std::io::BufRead;
use std::time::{Duration, Instant};

/// How to reach the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenAiConfig {
    /// Base URL up to and including `/v1` (e.g. `https://api.openai.com/v1`, `http://localhost:8080/v1`).
    pub base_url: String,
    pub model: String,
    /// The API key. When the config file has none, the `loupe` command fills it from the
    /// environment variable named by `api_key_env` (this crate reads no environment).
    pub api_key: Option<String>,
    /// The environment variable that holds the key (default `OPENAI_API_KEY`).
    pub api_key_env: String,
    /// Whether the model takes images (sent as `data:` URLs).
    pub vision: bool,
    /// Seconds to wait for the response to start, and between streamed pieces.
    pub timeout_s: f64,
    /// Retries on connection errors, 429 and 5xx (before anything was streamed).
    pub max_retries: u32,
    /// First backoff in seconds (doubles each retry, plus jitter).
    pub backoff_s: f64,
    /// Evidence text sent, in characters.
    pub evidence_chars: usize,
    /// `strict` (the default: full rules, `[n]` citations, "NOT FOUND") or `compact` (for small
    /// models, see `prompt::Style`).
    pub prompt: crate::prompt::Style,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self {
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-4o-mini".into(),
            api_key: None,
            api_key_env: "OPENAI_API_KEY".into(),
            vision: true,
            timeout_s: 60.0,
            max_retries: 4,
            backoff_s: 0.5,
            evidence_chars: 24_000,
            prompt: crate::prompt::Style::Strict,
        }
    }
}

pub struct OpenAi {
    cfg: OpenAiConfig,
    key: Option<String>,
    agent: ureq::Agent,
}

impl OpenAi {
    pub fn new(cfg: OpenAiConfig) -> Result<Self> {
        if !(cfg.base_url.starts_with("http://") || cfg.base_url.starts_with("https://")) {
            return Err(Error::Config(format!(
                "openai base_url '{}' is not an http(s) URL",
                cfg.base_url
            )));
        }
        if cfg.timeout_s.is_nan() || cfg.timeout_s <= 0.0 {
            return Err(Error::Config("openai timeout_s must be above 0".into()));
        }
        let key = cfg.api_key.clone().filter(|k| !k.is_empty());
        let t = Some(Duration::from_secs_f64(cfg.timeout_s));
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_recv_response(t)
            .timeout_per_read(t)
            .build()
            .into();
        Ok(Self { cfg, key, agent })
    }

    fn url(&self) -> String {
        format!("{}/chat/completions", self.cfg.base_url.trim_end_matches('/'))
    }

    fn err(&self, message: impl Into<String>) -> Error {
        Error::Remote {
            url: self.cfg.base_url.clone(),
            message: message.into(),
        }
    }
}

/// The request body: OpenAI chat-completions with streaming and usage.
pub fn request_body(model: &str, turns: &[LlmTurn], opts: &GenOptions, vision: bool) -> serde_json::Value {
    let messages: Vec<serde_json::Value> = turns
        .iter()
        .map(|t| {
            if vision && !t.images.is_empty() {
                let mut parts: Vec<serde_json::Value> = t
                    .images
                    .iter()
                    .map(|b64| {
                        serde_json::json!({"type": "image_url",
                            "image_url": {"url": format!("data:image/jpeg;base64,{b64}")}})
                    })
                    .collect();
                parts.push(serde_json::json!({"type": "text", "text": t.content}));
                serde_json::json!({"role": t.role.as_str(), "content": parts})
            } else {
                serde_json::json!({"role": t.role.as_str(), "content": t.content})
            }
        })
        .collect();
    serde_json::json!({
        "model": model,
        "messages": messages,
        "max_tokens": opts.max_tokens,
        "temperature": opts.temperature,
        "stream": true,
        "stream_options": {"include_usage": true},
    })
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Option<Delta>,
    /// Servers that ignore `stream` send a whole message.
    #[serde(default)]
    message: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

enum Attempt {
    Done(Generation),
    /// Worth retrying (and how long the server asked us to wait).
    Retry(String, Option<Duration>),
}

impl OpenAi {
    fn attempt(
        &self,
        body: &serde_json::Value,
        started: Instant,
        on_text: &mut dyn FnMut(&str) -> Flow,
    ) -> Result<Attempt> {
        let mut req = self.agent.post(self.url()).header("Accept", "text/event-stream");
        if let Some(k) = &self.key {
            req = req.header("Authorization", format!("Bearer {k}"));
        }
        let resp = match req
            .header("Content-Type", "application/json")
            .send(body.to_string())
        {
            Ok(r) => r,
            Err(e) => return Ok(Attempt::Retry(format!("request failed: {e}"), None)),
        };
        let status = resp.status().as_u16();
        if status == 429 || status >= 500 {
            let wait = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(|s| Duration::from_secs_f64(s.min(60.0)));
            let text = resp.into_body().read_to_string().unwrap_or_default();
            return Ok(Attempt::Retry(format!("HTTP {status}: {}", snip(&text)), wait));
        }
        if status != 200 {
            let text = resp.into_body().read_to_string().unwrap_or_default();
            return Err(self.err(format!("HTTP {status}: {}", snip(&text))));
        }
        let reader = std::io::BufReader::new(resp.into_body().into_reader());
        let mut text = String::new();
        let mut usage = None;
        let mut first: Option<Instant> = None;
        let mut finish = FinishReason::Stop;
        for line in reader.lines() {
            let line = line.map_err(|e| self.err(format!("reading the stream: {e}")))?;
            let line = line.trim();
            // A non-streaming JSON body (a server that ignored `stream`).
            let data = if let Some(d) = line.strip_prefix("data:") {
                d.trim()
            } else if line.starts_with('{') {
                line
            } else {
                continue;
            };
            if data == "[DONE]" {
                break;
            }
            let chunk: Chunk = serde_json::from_str(data)
                .map_err(|e| self.err(format!("a stream event is not a chat completion chunk: {e}")))?;
            if chunk.usage.is_some() {
                usage = chunk.usage;
            }
            for c in chunk.choices {
                if c.finish_reason.as_deref() == Some("length") {
                    finish = FinishReason::Length;
                }
                if let Some(piece) = c
                    .delta
                    .or(c.message)
                    .and_then(|d| d.content)
                    .filter(|p| !p.is_empty())
                {
                    first.get_or_insert_with(Instant::now);
                    text.push_str(&piece);
                    if on_text(&piece) == Flow::Stop {
                        return Ok(Attempt::Done(Generation {
                            text,
                            usage,
                            finish: FinishReason::Cancelled,
                            first_token_ms: first.map(|f| (f - started).as_secs_f64() * 1000.0),
                            generate_ms: first.map(|f| f.elapsed().as_secs_f64() * 1000.0),
                            prompt_ms: None,
                            cached_tokens: None,
                        }));
                    }
                }
            }
        }
        Ok(Attempt::Done(Generation {
            text,
            usage,
            finish,
            first_token_ms: first.map(|f| (f - started).as_secs_f64() * 1000.0),
            generate_ms: first.map(|f| f.elapsed().as_secs_f64() * 1000.0),
            prompt_ms: None,
            cached_tokens: None,
        }))
    }
}

fn snip(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Backoff before retry `n` (from 0): `base * 2^n`, plus up to 25 % jitter from the clock.
pub fn backoff(base_s: f64, n: u32) -> Duration {
    let jitter = f64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() % 1000),
    ) / 4000.0;
    Duration::from_secs_f64((base_s * 2f64.powi(n.min(10) as i32) * (1.0 + jitter)).min(30.0))
}

impl ChatModel for OpenAi {
    fn name(&self) -> String {
        format!("openai:{}", self.cfg.model)
    }
    fn vision(&self) -> bool {
        self.cfg.vision
    }
    fn evidence_budget(&self) -> usize {
        self.cfg.evidence_chars
    }
    fn style(&self) -> crate::prompt::Style {
        self.cfg.prompt
    }
    fn chat(
        &self,
        turns: &[LlmTurn],
        opts: &GenOptions,
        on_text: &mut dyn FnMut(&str) -> Flow,
    ) -> Result<Generation> {
        let body = request_body(&self.cfg.model, turns, opts, self.cfg.vision);
        let started = Instant::now();
        let mut tries = 0;
        loop {
            match self.attempt(&body, started, on_text)? {
                Attempt::Done(g) => return Ok(g),
                Attempt::Retry(why, wait) => {
                    if tries >= self.cfg.max_retries {
                        return Err(self.err(format!("{why} (gave up after {} tries)", tries + 1)));
                    }
                    let wait = wait.unwrap_or_else(|| backoff(self.cfg.backoff_s, tries));
                    tracing::warn!(
                        "{}: {why}; retrying in {:.1} s",
                        self.cfg.base_url,
                        wait.as_secs_f64()
                    );
                    std::thread::sleep(wait);
                    tries += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loupe_schemas::llm::Role;

    #[test]
    fn images_go_as_data_urls() {
        let turns = vec![LlmTurn {
            role: Role::User,
            content: "what is this?".into(),
            images: vec!["AAAA".into()],
        }];
        let b = request_body("m", &turns, &GenOptions::default(), true);
        assert_eq!(
            b["messages"][0]["content"][0]["image_url"]["url"],
            "data:image/jpeg;base64,AAAA"
        );
        assert_eq!(b["messages"][0]["content"][1]["text"], "what is this?");
        let b = request_body("m", &turns, &GenOptions::default(), false);
        assert_eq!(b["messages"][0]["content"], "what is this?");
    }

    #[test]
    fn backoff_doubles() {
        let a = backoff(0.5, 0).as_secs_f64();
        let b = backoff(0.5, 2).as_secs_f64();
        assert!((0.5..=0.63).contains(&a), "{a}");
        assert!((2.0..=2.5).contains(&b), "{b}");
    }

    /// A tiny HTTP server that answers 503 twice, then streams a reply, shows the retry path and
    /// the SSE parsing on a real socket (the full OpenAI path against a real server is in the
    /// workspace's tests/answers.rs).
    #[test]
    fn retries_5xx_then_streams() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            for i in 0..3 {
                let (mut s, _) = listener.accept().unwrap();
                let mut buf = vec![0u8; 65536];
                let mut got = Vec::new();
                // Read headers and the body (Content-Length).
                loop {
                    let n = s.read(&mut buf).unwrap();
                    got.extend_from_slice(&buf[..n]);
                    let t = String::from_utf8_lossy(&got).to_string();
                    if let Some(h) = t.find("\r\n\r\n") {
                        let len = t[..h]
                            .lines()
                            .find_map(|l| {
                                l.to_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        if got.len() >= h + 4 + len {
                            break;
                        }
                    }
                }
                if i < 2 {
                    let _ = s.write_all(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy");
                } else {
                    let body = "data: {\"choices\":[{\"delta\":{\"content\":\"It is \"}}]}\n\n\
                                data: {\"choices\":[{\"delta\":{\"content\":\"4.11 [1].\"},\"finish_reason\":\"stop\"}]}\n\n\
                                data: {\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":4,\"total_tokens\":14}}\n\n\
                                data: [DONE]\n\n";
                    let _ = write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
            }
        });
        let m = OpenAi::new(OpenAiConfig {
            base_url: format!("http://{addr}/v1"),
            model: "m".into(),
            backoff_s: 0.01,
            ..OpenAiConfig::default()
        })
        .unwrap();
        let mut pieces = Vec::new();
        let g = m
            .chat(
                &[LlmTurn {
                    role: Role::User,
                    content: "q".into(),
                    images: vec![],
                }],
                &GenOptions::default(),
                &mut |p| {
                    pieces.push(p.to_string());
                    Flow::Continue
                },
            )
            .unwrap();
        server.join().unwrap();
        assert_eq!(g.text, "It is 4.11 [1].");
        assert_eq!(pieces, vec!["It is ", "4.11 [1]."]);
        assert_eq!(g.usage.unwrap().total_tokens, 14);
    }
}
