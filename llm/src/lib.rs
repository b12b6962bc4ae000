//! loupe-llm: runs one GGUF language model (optionally with a vision projector) through
//! llama.cpp and streams what it generates.
//!
//! This crate is linked only into the `loupe-llm` worker binary, never into `loupe` itself:
//! llama.cpp and whisper.cpp each bundle their own ggml, and the two copies must not meet in one
//! process. The protocol the worker speaks is in `loupe_schemas::llm`.
//!
//! Not for: retrieval, prompts with evidence, citations (that is `loupe-answer`).

use base64::Engine as _;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::mtmd::{MtmdBitmap, MtmdContext, MtmdContextParams, MtmdInputText};
use llama_cpp_2::sampling::LlamaSampler;
use loupe_schemas::llm::{FinishReason, LlmEvent, LlmRequest, Role, Usage};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("model file {0} does not exist")]
    Missing(PathBuf),
    #[error("llama.cpp: {0}")]
    Llama(String),
    #[error("the prompt has {prompt} tokens, more than the context of {n_ctx} leaves room for")]
    TooLong { prompt: usize, n_ctx: u32 },
    #[error("this model has no vision projector, so it cannot take images")]
    NoVision,
    #[error("bad request: {0}")]
    BadRequest(String),
}

pub type Result<T> = std::result::Result<T, Error>;

fn ll(e: impl std::fmt::Display) -> Error {
    Error::Llama(e.to_string())
}

/// How to load a model.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub model: PathBuf,
    /// The multimodal projector (`mmproj.gguf`) of a vision-language model.
    pub mmproj: Option<PathBuf>,
    /// Context length in tokens (prompt + answer).
    pub n_ctx: u32,
    /// CPU threads (0 = all available).
    pub threads: usize,
}

/// A loaded model.
pub struct Engine {
    backend: LlamaBackend,
    model: LlamaModel,
    mtmd: Option<MtmdContext>,
    template: Option<LlamaChatTemplate>,
    n_ctx: u32,
    threads: i32,
    name: String,
}

const N_BATCH: u32 = 512;

impl Engine {
    pub fn load(opts: &EngineOptions, verbose: bool) -> Result<Self> {
        for p in std::iter::once(&opts.model).chain(opts.mmproj.as_ref()) {
            if !p.is_file() {
                return Err(Error::Missing(p.clone()));
            }
        }
        let mut backend = LlamaBackend::init().map_err(ll)?;
        if !verbose {
            backend.void_logs();
        }
        let model = LlamaModel::load_from_file(&backend, &opts.model, &LlamaModelParams::default())
            .map_err(|e| Error::Llama(format!("loading {}: {e}", opts.model.display())))?;
        let threads = match opts.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let threads = i32::try_from(threads).unwrap_or(1);
        let mtmd = match &opts.mmproj {
            Some(p) => {
                let params = MtmdContextParams {
                    use_gpu: false,
                    print_timings: false,
                    n_threads: threads,
                    ..MtmdContextParams::default()
                };
                let path = p
                    .to_str()
                    .ok_or_else(|| Error::BadRequest("non-UTF-8 projector path".into()))?;
                let ctx = MtmdContext::init_from_file(path, &model, &params)
                    .map_err(|e| Error::Llama(format!("loading the projector {}: {e}", p.display())))?;
                if !ctx.support_vision() {
                    return Err(Error::Llama(format!("{} is not a vision projector", p.display())));
                }
                Some(ctx)
            }
            None => None,
        };
        let template = model.chat_template(None).ok();
        let name = model
            .meta_val_str("general.name")
            .unwrap_or_else(|_| file_stem(&opts.model));
        let n_ctx = opts.n_ctx.min(model.n_ctx_train()).max(256);
        Ok(Self {
            backend,
            model,
            mtmd,
            template,
            n_ctx,
            threads,
            name,
        })
    }

    pub fn ready_event(&self) -> LlmEvent {
        LlmEvent::Ready {
            model: self.name.clone(),
            vision: self.mtmd.is_some(),
            n_ctx: self.n_ctx,
        }
    }

    /// The prompt text for these turns: the model's own chat template, or a plain transcript for a
    /// base model without one. Images become the projector's media markers before their turn's text.
    pub fn render(&self, req: &LlmRequest) -> Result<(String, Vec<String>)> {
        let marker = llama_cpp_2::mtmd::mtmd_default_marker();
        let mut extra_stop = Vec::new();
        let content = |t: &loupe_schemas::llm::LlmTurn| {
            let mut s = String::new();
            for _ in &t.images {
                s.push_str(marker);
                s.push('\n');
            }
            s.push_str(&t.content);
            s
        };
        let prompt = match &self.template {
            Some(tmpl) => {
                let msgs = req
                    .turns
                    .iter()
                    .map(|t| LlamaChatMessage::new(t.role.as_str().to_string(), content(t)))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| Error::BadRequest(e.to_string()))?;
                self.model.apply_chat_template(tmpl, &msgs, true).map_err(ll)?
            }
            None => {
                let mut s = String::new();
                for t in &req.turns {
                    let who = match t.role {
                        Role::System => "Instructions",
                        Role::User => "User",
                        Role::Assistant => "Assistant",
                    };
                    s.push_str(&format!("{who}: {}\n\n", content(t)));
                }
                s.push_str("Assistant:");
                extra_stop.push("\nUser:".to_string());
                extra_stop.push("\nInstructions:".to_string());
                s
            }
        };
        Ok((prompt, extra_stop))
    }

    /// Runs one request, calling `emit` with each piece of text and finally with `Done`.
    /// `cancelled` is polled between tokens.
    pub fn generate(
        &mut self,
        req: &LlmRequest,
        cancelled: &mut dyn FnMut() -> bool,
        emit: &mut dyn FnMut(LlmEvent),
    ) -> Result<()> {
        let n_images: usize = req.turns.iter().map(|t| t.images.len()).sum();
        if n_images > 0 && self.mtmd.is_none() {
            return Err(Error::NoVision);
        }
        if req.turns.is_empty() {
            return Err(Error::BadRequest("no turns".into()));
        }
        let (prompt, extra_stop) = self.render(req)?;
        let stops: Vec<String> = req
            .stop
            .iter()
            .cloned()
            .chain(extra_stop)
            .filter(|s| !s.is_empty())
            .collect();
        let started = Instant::now();
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(self.n_ctx))
            .with_n_batch(N_BATCH)
            .with_n_threads(self.threads)
            .with_n_threads_batch(self.threads);
        let mut ctx = self.model.new_context(&self.backend, params).map_err(ll)?;
        let vocab = self.model.vocab();

        // Prompt.
        let n_ctx = self.n_ctx;
        let (mut n_past, prompt_tokens, mut last_idx) = match self.mtmd.as_mut() {
            Some(mtmd) if n_images > 0 => {
                let mut bitmaps = Vec::new();
                for img in req.turns.iter().flat_map(|t| &t.images) {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(img)
                        .map_err(|e| Error::BadRequest(format!("image is not base64: {e}")))?;
                    bitmaps.push(
                        MtmdBitmap::from_buffer(mtmd, &bytes, false)
                            .map_err(|e| Error::BadRequest(format!("image could not be decoded: {e}")))?,
                    );
                }
                let refs: Vec<&MtmdBitmap> = bitmaps.iter().collect();
                let chunks = mtmd
                    .tokenize(
                        MtmdInputText {
                            text: prompt,
                            add_special: true,
                            parse_special: true,
                        },
                        &refs,
                    )
                    .map_err(ll)?;
                let n = chunks.total_tokens();
                check_fits(n_ctx, n, req.max_tokens)?;
                let n_past = chunks
                    .eval_chunks(mtmd, &mut ctx, 0, 0, N_BATCH as i32, true)
                    .map_err(ll)?;
                (n_past, n, -1)
            }
            _ => {
                let tokens = vocab.tokenize(prompt.as_bytes(), true, true);
                check_fits(n_ctx, tokens.len(), req.max_tokens)?;
                let mut batch = LlamaBatch::new(N_BATCH as usize, 1);
                let mut last = 0;
                for (chunk_no, chunk) in tokens.chunks(N_BATCH as usize).enumerate() {
                    batch.clear();
                    let base = chunk_no * N_BATCH as usize;
                    for (i, t) in chunk.iter().enumerate() {
                        let pos = i32::try_from(base + i).map_err(ll)?;
                        let is_last = base + i + 1 == tokens.len();
                        batch.add(*t, pos, &[0], is_last).map_err(ll)?;
                    }
                    ctx.decode(&mut batch).map_err(ll)?;
                    last = batch.n_tokens() - 1;
                }
                (i32::try_from(tokens.len()).map_err(ll)?, tokens.len(), last)
            }
        };
        let prompt_ms = started.elapsed().as_secs_f64() * 1000.0;

        let mut sampler = if req.temperature <= 0.0 {
            LlamaSampler::greedy()
        } else {
            LlamaSampler::chain_simple([
                LlamaSampler::top_k(40),
                LlamaSampler::top_p(0.95, 1),
                LlamaSampler::temp(req.temperature),
                LlamaSampler::dist(req.seed),
            ])
        };
        let gen_started = Instant::now();
        let mut batch = LlamaBatch::new(1, 1);
        let mut pending: Vec<u8> = Vec::new();
        let mut text = String::new();
        let mut emitted = 0usize;
        let mut completion = 0u32;
        let mut finish = FinishReason::Length;
        while completion < req.max_tokens {
            if cancelled() {
                finish = FinishReason::Cancelled;
                break;
            }
            let token = sampler.sample(&ctx, last_idx);
            if vocab.is_eog(token) {
                finish = FinishReason::Stop;
                break;
            }
            completion += 1;
            pending.extend(vocab.token_to_piece(token, false, None));
            let valid = match std::str::from_utf8(&pending) {
                Ok(_) => pending.len(),
                Err(e) if e.error_len().is_none() => e.valid_up_to(),
                // Invalid bytes (not just an unfinished character): replace and move on.
                Err(_) => pending.len(),
            };
            text.push_str(&String::from_utf8_lossy(&pending[..valid]));
            pending.drain(..valid);
            if let Some(at) = stops.iter().filter_map(|s| text.find(s.as_str())).min() {
                text.truncate(at);
                if text.len() > emitted {
                    emit(LlmEvent::Token {
                        text: text[emitted..].to_string(),
                    });
                    emitted = text.len();
                }
                finish = FinishReason::Stop;
                break;
            }
            // Hold back a tail that could still become a stop string.
            let hold = stops.iter().map(|s| partial_suffix(&text, s)).max().unwrap_or(0);
            let upto = text.len() - hold;
            if upto > emitted && text.is_char_boundary(upto) {
                emit(LlmEvent::Token {
                    text: text[emitted..upto].to_string(),
                });
                emitted = upto;
            }
            if n_past as u32 + 1 >= n_ctx {
                break;
            }
            batch.clear();
            batch.add(token, n_past, &[0], true).map_err(ll)?;
            n_past += 1;
            ctx.decode(&mut batch).map_err(ll)?;
            last_idx = 0;
        }
        if finish != FinishReason::Stop && text.len() > emitted {
            emit(LlmEvent::Token {
                text: text[emitted..].to_string(),
            });
        }
        let prompt_tokens = u32::try_from(prompt_tokens).unwrap_or(u32::MAX);
        emit(LlmEvent::Done {
            finish_reason: finish,
            usage: Usage {
                prompt_tokens,
                completion_tokens: completion,
                total_tokens: prompt_tokens.saturating_add(completion),
            },
            prompt_ms,
            generate_ms: gen_started.elapsed().as_secs_f64() * 1000.0,
        });
        Ok(())
    }
}

/// Refuses a prompt that leaves no room for an answer.
fn check_fits(n_ctx: u32, prompt: usize, max_tokens: u32) -> Result<()> {
    if prompt + max_tokens.min(64) as usize >= n_ctx as usize {
        return Err(Error::TooLong { prompt, n_ctx });
    }
    Ok(())
}

/// The length of the longest proper prefix of `stop` that `text` ends with.
fn partial_suffix(text: &str, stop: &str) -> usize {
    (1..stop.len())
        .rev()
        .filter(|&n| stop.is_char_boundary(n))
        .find(|&n| text.ends_with(&stop[..n]))
        .unwrap_or(0)
}

fn file_stem(p: &Path) -> String {
    p.file_stem()
        .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::partial_suffix;

    #[test]
    fn held_back_tails() {
        assert_eq!(partial_suffix("hello\nUs", "\nUser:"), 3);
        assert_eq!(partial_suffix("hello", "\nUser:"), 0);
        assert_eq!(partial_suffix("a\n", "\nUser:"), 1);
    }
}
