//! loupe-llm: runs one GGUF language model (optionally with a vision projector) through
//! llama.cpp and streams what it generates.
//!
//! This crate is linked only into the `loupe-llm` worker binary, never into `loupe` itself:
//! llama.cpp and whisper.cpp each bundle their own ggml, and the two copies must not meet in one
//! process. The protocol the worker speaks is in `loupe_schemas::llm`.
//!
//! The engine keeps one llama.cpp context between requests and reuses the part of its KV cache
//! that the next prompt starts with (the chat template's opening and the system prompt, often the
//! evidence too), so only the rest of the prompt is processed. `Done` reports how many prompt
//! tokens were reused (`cached_tokens`).
//!
//! Not for: retrieval, prompts with evidence, citations (that is `loupe-answer`).

use base64::Engine as _;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::mtmd::{MtmdBitmap, MtmdContext, MtmdContextParams, MtmdInputChunks, MtmdInputText};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
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

/// Tokens per llama.cpp batch when processing a prompt (`n_batch` = `n_ubatch`). Measured with
/// `loupe-llm --bench-prompt` on a 2-core x86-64 (AVX2) with Qwen2.5-Coder-0.5B: 128, 256 and 512
/// process 600- and 1500-token prompts within 2% of each other (about 135 and 120 tokens/s), 64
/// is 3-10% slower. 256 keeps the speed with half the compute buffer of 512 (155 MiB against
/// 310), which the kept context holds for the worker's whole life.
pub const N_BATCH: u32 = 256;

/// A loaded model.
///
/// One llama.cpp context is kept across requests, with the token sequence its KV cache holds
/// ([`KvRecord`]). A text-only request decodes only what follows the longest prefix it shares with
/// that sequence: the chat template's opening and the system prompt always, the evidence too when
/// consecutive questions are about the same document.
pub struct Engine {
    /// The context kept between requests, created on first use. It refers to `model`, so it is
    /// declared, and therefore dropped, before it (see [`Engine::take_context`]).
    ctx: Option<LlamaContext<'static>>,
    /// What `ctx`'s KV cache holds.
    kv: KvRecord,
    mtmd: Option<MtmdContext>,
    model: LlamaModel,
    backend: LlamaBackend,
    template: Option<LlamaChatTemplate>,
    n_ctx: u32,
    threads: i32,
    name: String,
}

impl Drop for Engine {
    fn drop(&mut self) {
        // The context refers to the model: free it first whatever the field order.
        self.ctx = None;
    }
}

/// A prompt ready to decode.
enum Input {
    Text(Vec<LlamaToken>),
    /// Text and images, for the projector.
    Media(MtmdInputChunks),
}

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
            ctx: None,
            kv: KvRecord::default(),
            mtmd,
            model,
            backend,
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

    /// The context length in tokens.
    pub fn n_ctx(&self) -> u32 {
        self.n_ctx
    }

    /// Forgets the kept context, so the next request starts cold (as after a restart).
    pub fn clear_cache(&mut self) {
        self.ctx = None;
        self.kv.invalidate();
    }

    fn context_params(&self, n_batch: u32) -> LlamaContextParams {
        LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(self.n_ctx))
            .with_n_batch(n_batch)
            .with_n_ubatch(n_batch)
            .with_n_threads(self.threads)
            .with_n_threads_batch(self.threads)
    }

    /// Takes the kept context out of the engine (to be put back after a successful request), or
    /// makes a new one, with an empty cache.
    fn take_context(&mut self) -> Result<LlamaContext<'static>> {
        if let Some(ctx) = self.ctx.take() {
            return Ok(ctx);
        }
        self.kv.invalidate();
        let ctx = self
            .model
            .new_context(&self.backend, self.context_params(N_BATCH))
            .map_err(ll)?;
        // SAFETY: the lifetime only stands for "the model outlives the context" (the context holds
        // a PhantomData borrow; llama.cpp keeps a raw pointer to the llama_model, which
        // `LlamaModel` owns behind a pointer, so moving the Engine moves nothing it points to).
        // The context lives either in `self.ctx`, dropped before `self.model` (field order, and
        // `Drop for Engine`), or as a local of `generate`, which holds `&mut self` and so outlives
        // no part of it. It is never handed out.
        Ok(unsafe { std::mem::transmute::<LlamaContext<'_>, LlamaContext<'static>>(ctx) })
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
        let input = self.prepare(prompt, req, n_images)?;
        let mut ctx = self.take_context()?;
        let result = self.run(&mut ctx, input, req, &stops, started, cancelled, emit);
        match result {
            Ok(()) => self.ctx = Some(ctx),
            // Whatever the cache holds now is unknown: drop it with the context, and the next
            // request starts with a new one.
            Err(_) => self.kv.invalidate(),
        }
        result
    }

    /// Tokenizes the prompt (with its images, if any) and checks that it fits.
    fn prepare(&self, prompt: String, req: &LlmRequest, n_images: usize) -> Result<Input> {
        match self.mtmd.as_ref() {
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
                check_fits(self.n_ctx, chunks.total_tokens(), req.max_tokens)?;
                Ok(Input::Media(chunks))
            }
            _ => {
                let tokens = self.model.vocab().tokenize(prompt.as_bytes(), true, true);
                if tokens.is_empty() {
                    return Err(Error::BadRequest("the prompt is empty".into()));
                }
                check_fits(self.n_ctx, tokens.len(), req.max_tokens)?;
                Ok(Input::Text(tokens))
            }
        }
    }

    /// Decodes the prompt into `ctx` (reusing its cached prefix) and generates.
    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        ctx: &mut LlamaContext<'_>,
        input: Input,
        req: &LlmRequest,
        stops: &[String],
        started: Instant,
        cancelled: &mut dyn FnMut() -> bool,
        emit: &mut dyn FnMut(LlmEvent),
    ) -> Result<()> {
        let n_ctx = self.n_ctx;
        let reusable = matches!(input, Input::Text(_));
        let (mut n_past, prompt_tokens, cached, mut last_idx) = match input {
            Input::Media(chunks) => {
                // Image embeddings are no tokens to compare: start from an empty cache, and leave
                // the record invalid so that the next request starts from an empty one too.
                self.kv.invalidate();
                ctx.clear_kv_cache();
                let mtmd = self.mtmd.as_mut().ok_or(Error::NoVision)?;
                let n_past = chunks
                    .eval_chunks(mtmd, ctx, 0, 0, N_BATCH as i32, true)
                    .map_err(ll)?;
                (n_past, chunks.total_tokens(), 0, -1)
            }
            Input::Text(tokens) => {
                let keep = self.keep_prefix(ctx, &tokens);
                let last = self.decode_prompt(ctx, &tokens, keep)?;
                (i32::try_from(tokens.len()).map_err(ll)?, tokens.len(), keep, last)
            }
        };
        let prompt_ms = started.elapsed().as_secs_f64() * 1000.0;

        // A fresh sampler per request: a stateful one (the seeded `dist`) must not carry over.
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
        let vocab = self.model.vocab();
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
            let token = sampler.sample(ctx, last_idx);
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
            self.kv.decoded(&[token]);
            last_idx = 0;
        }
        if finish != FinishReason::Stop && text.len() > emitted {
            emit(LlmEvent::Token {
                text: text[emitted..].to_string(),
            });
        }
        if reusable {
            // The cache holds the prompt and the generated tokens decoded after it, as recorded.
            self.kv.settle();
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
            cached_tokens: u32::try_from(cached).unwrap_or(u32::MAX),
        });
        Ok(())
    }

    /// Starts a text request: keeps the longest prefix of `prompt` the cache holds (all but its
    /// last token at most) and removes everything after it. Returns the number of tokens kept.
    fn keep_prefix(&mut self, ctx: &mut LlamaContext<'_>, prompt: &[LlamaToken]) -> usize {
        let keep = self.kv.begin(prompt);
        if keep > 0 && trim_kv(ctx, keep) {
            return keep;
        }
        ctx.clear_kv_cache();
        self.kv.invalidate();
        0
    }

    /// Decodes `tokens[from..]` at positions `from..`, in batches of [`N_BATCH`], with logits for
    /// the last token only. Returns that token's index in the last batch.
    fn decode_prompt(
        &mut self,
        ctx: &mut LlamaContext<'_>,
        tokens: &[LlamaToken],
        from: usize,
    ) -> Result<i32> {
        debug_assert!(
            from < tokens.len(),
            "at least the last prompt token must be decoded"
        );
        decode_batches(ctx, tokens, from, N_BATCH as usize, &mut |chunk| {
            self.kv.decoded(chunk)
        })
    }

    /// Prompt processing speed: milliseconds to decode `n_tokens` tokens of plain English text
    /// into an empty cache in batches of `n_batch` (`n_batch` = `n_ubatch`), in a context of its
    /// own (the kept one is untouched). For `loupe-llm --bench-prompt`.
    pub fn time_prompt(&self, n_tokens: usize, n_batch: u32) -> Result<f64> {
        if n_tokens == 0 || n_tokens + 1 >= self.n_ctx as usize {
            return Err(Error::TooLong {
                prompt: n_tokens,
                n_ctx: self.n_ctx,
            });
        }
        let vocab = self.model.vocab();
        let mut repeats = n_tokens / 25 + 1;
        let mut tokens = loop {
            let tokens = vocab.tokenize(FILLER.repeat(repeats).as_bytes(), true, false);
            if tokens.len() >= n_tokens {
                break tokens;
            }
            repeats *= 2;
        };
        tokens.truncate(n_tokens);
        let mut ctx = self
            .model
            .new_context(&self.backend, self.context_params(n_batch))
            .map_err(ll)?;
        let started = Instant::now();
        decode_batches(&mut ctx, &tokens, 0, n_batch as usize, &mut |_| {})?;
        Ok(started.elapsed().as_secs_f64() * 1000.0)
    }
}

/// Plain English text (about 30 tokens, 5 characters a token) to time prompt processing with.
pub const FILLER: &str = "The quarterly report lists the invoices paid in March, the names of the \
suppliers, the amounts in euros and the dates on which each payment left the account. ";

/// How many tokens of `new` can be kept from a cache holding `cached`: their longest common
/// prefix, but never all of `new`, since its last token must be decoded again for the logits
/// that the first generated token is sampled from.
pub fn common_prefix(cached: &[LlamaToken], new: &[LlamaToken]) -> usize {
    let n = cached.iter().zip(new).take_while(|(a, b)| a == b).count();
    if n == new.len() { n.saturating_sub(1) } else { n }
}

/// The token sequence the kept context's KV cache holds at positions `0..len` of sequence 0 —
/// while `valid`. It becomes invalid when a request starts and valid again only when the request
/// ends well; so after an error (a failed decode) or an image request (whose embeddings are no
/// tokens) the next request starts from an empty cache.
#[derive(Debug, Default)]
struct KvRecord {
    tokens: Vec<LlamaToken>,
    valid: bool,
}

impl KvRecord {
    /// Starts a text request: how many of `prompt`'s tokens the cache already holds (see
    /// [`common_prefix`]); the record keeps just those. 0 when the record is invalid.
    fn begin(&mut self, prompt: &[LlamaToken]) -> usize {
        let keep = if self.valid {
            common_prefix(&self.tokens, prompt)
        } else {
            0
        };
        self.tokens.truncate(keep);
        self.valid = false;
        keep
    }

    /// Tokens decoded into the cache after those recorded.
    fn decoded(&mut self, tokens: &[LlamaToken]) {
        self.tokens.extend_from_slice(tokens);
    }

    /// The request ended well: the record is what the cache holds.
    fn settle(&mut self) {
        self.valid = true;
    }

    /// The cache holds something else (or nothing): the next request must start from scratch.
    fn invalidate(&mut self) {
        self.tokens.clear();
        self.valid = false;
    }
}

/// Removes positions `keep..` from sequence 0 of `ctx`'s cache. False when the memory could not
/// (recurrent or hybrid models) or no longer holds the whole prefix (sliding-window attention):
/// then it must be cleared and the prompt decoded from the start.
fn trim_kv(ctx: &mut LlamaContext<'_>, keep: usize) -> bool {
    let (Ok(p0), Ok(last)) = (u32::try_from(keep), i32::try_from(keep)) else {
        return false;
    };
    matches!(ctx.clear_kv_cache_seq(Some(0), Some(p0), None), Ok(true))
        && ctx.kv_cache_seq_pos_min(0) == 0
        && ctx.kv_cache_seq_pos_max(0) == last - 1
}

/// Decodes `tokens[from..]` at positions `from..` in batches of `n_batch`, with logits for the
/// last token only, calling `decoded` with each batch once it is in the cache. Returns the last
/// token's index in the last batch.
fn decode_batches(
    ctx: &mut LlamaContext<'_>,
    tokens: &[LlamaToken],
    from: usize,
    n_batch: usize,
    decoded: &mut dyn FnMut(&[LlamaToken]),
) -> Result<i32> {
    let mut batch = LlamaBatch::new(n_batch, 1);
    let mut last = 0;
    for (chunk_no, chunk) in tokens[from..].chunks(n_batch).enumerate() {
        batch.clear();
        let base = from + chunk_no * n_batch;
        for (i, t) in chunk.iter().enumerate() {
            let pos = i32::try_from(base + i).map_err(ll)?;
            batch
                .add(*t, pos, &[0], base + i + 1 == tokens.len())
                .map_err(ll)?;
        }
        ctx.decode(&mut batch).map_err(ll)?;
        decoded(chunk);
        last = batch.n_tokens() - 1;
    }
    Ok(last)
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
    use super::{KvRecord, common_prefix, partial_suffix};
    use llama_cpp_2::token::LlamaToken;

    fn t(ids: &[i32]) -> Vec<LlamaToken> {
        ids.iter().copied().map(LlamaToken::new).collect()
    }

    #[test]
    fn held_back_tails() {
        assert_eq!(partial_suffix("hello\nUs", "\nUser:"), 3);
        assert_eq!(partial_suffix("hello", "\nUser:"), 0);
        assert_eq!(partial_suffix("a\n", "\nUser:"), 1);
    }

    #[test]
    fn common_prefix_keeps_the_shared_start() {
        assert_eq!(common_prefix(&t(&[1, 2, 3, 4]), &t(&[1, 2, 9, 4, 5])), 2);
        assert_eq!(common_prefix(&t(&[1, 2, 3]), &t(&[1, 2, 3, 4, 5])), 3);
        assert_eq!(common_prefix(&t(&[7, 2, 3]), &t(&[1, 2, 3])), 0);
        assert_eq!(common_prefix(&[], &t(&[1, 2])), 0);
        assert_eq!(common_prefix(&t(&[1]), &[]), 0);
    }

    #[test]
    fn common_prefix_backs_off_one_token_when_all_of_the_prompt_is_cached() {
        // The last prompt token is decoded again: its logits give the first generated token.
        assert_eq!(common_prefix(&t(&[1, 2, 3]), &t(&[1, 2, 3])), 2);
        // A prompt that is a prefix of what is cached (e.g. the same question again, whose
        // answer is cached after it).
        assert_eq!(common_prefix(&t(&[1, 2, 3, 4, 5]), &t(&[1, 2])), 1);
        assert_eq!(common_prefix(&t(&[1]), &t(&[1])), 0);
    }

    #[test]
    fn a_fresh_record_reuses_nothing() {
        let mut kv = KvRecord::default();
        assert_eq!(kv.begin(&t(&[1, 2, 3])), 0);
    }

    #[test]
    fn a_settled_request_is_reused_with_its_generated_tokens() {
        let mut kv = KvRecord::default();
        assert_eq!(kv.begin(&t(&[1, 2, 3])), 0);
        kv.decoded(&t(&[1, 2, 3])); // the prompt
        kv.decoded(&t(&[10])); // a generated token
        kv.settle();
        // A follow-up that repeats the prompt and the answer.
        assert_eq!(kv.begin(&t(&[1, 2, 3, 10, 11, 12])), 4);
        kv.decoded(&t(&[11, 12]));
        kv.settle();
        // A different question after the same system prompt: the record was trimmed to what was
        // kept, then grew by what was decoded.
        assert_eq!(kv.tokens, t(&[1, 2, 3, 10, 11, 12]));
        assert_eq!(kv.begin(&t(&[1, 2, 5])), 2);
        assert_eq!(kv.tokens, t(&[1, 2]));
    }

    #[test]
    fn a_request_that_fails_midway_leaves_nothing_to_reuse() {
        let mut kv = KvRecord::default();
        kv.begin(&t(&[1, 2, 3, 4]));
        kv.decoded(&t(&[1, 2, 3, 4]));
        kv.settle();
        // The next request decodes a first batch, then fails (no `settle`).
        assert_eq!(kv.begin(&t(&[1, 2, 3, 4, 5, 6, 7])), 4);
        kv.decoded(&t(&[5, 6]));
        assert_eq!(kv.begin(&t(&[1, 2, 3, 4, 5, 6, 7])), 0);
        // An error path that invalidates explicitly is the same.
        kv.decoded(&t(&[1, 2, 3]));
        kv.settle();
        kv.invalidate();
        assert_eq!(kv.begin(&t(&[1, 2, 3])), 0);
    }

    #[test]
    fn an_image_request_leaves_nothing_to_reuse() {
        let mut kv = KvRecord::default();
        kv.begin(&t(&[1, 2, 3]));
        kv.decoded(&t(&[1, 2, 3]));
        kv.settle();
        // What `run` does for a request with images: invalidate, decode, generate, not settle.
        kv.invalidate();
        kv.decoded(&t(&[42, 43]));
        assert_eq!(kv.begin(&t(&[1, 2, 3])), 0);
        assert!(kv.tokens.is_empty());
    }
}
