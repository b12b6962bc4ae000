//! The local model: a GGUF model (text, or vision with its projector) run by llama.cpp in the
//! `loupe-llm` worker process. The worker is started on first use and kept warm; if it dies it is
//! started again on the next question. One generation runs at a time.

use crate::{ChatModel, Error, Flow, GenOptions, Generation, Result};
use loupe_schemas::llm::{FinishReason, LlmControl, LlmEvent, LlmRequest, LlmTurn};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Where the model is and how to run it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalConfig {
    /// The GGUF model.
    pub model: PathBuf,
    /// Its vision projector, for a vision-language model.
    pub mmproj: Option<PathBuf>,
    /// A short name for reports (the model folder's name).
    pub name: String,
    /// Context length in tokens.
    pub n_ctx: u32,
    /// CPU threads (0 = all).
    pub threads: usize,
    /// The worker binary; default: `loupe-llm` on PATH. (The `loupe` command resolves it from
    /// `LOUPE_LLM_WORKER`, its config file or its own folder; this crate reads no environment.)
    pub worker: Option<PathBuf>,
    pub prompt: crate::prompt::Style,
}

impl LocalConfig {
    /// The model in an installed model folder (`model.gguf`, optionally `mmproj.gguf`).
    pub fn from_model_dir(dir: &Path, name: &str) -> Self {
        let mmproj = dir.join("mmproj.gguf");
        Self {
            model: dir.join("model.gguf"),
            mmproj: mmproj.is_file().then_some(mmproj),
            name: name.to_string(),
            n_ctx: 4096,
            threads: 0,
            worker: None,
            prompt: crate::prompt::Style::Compact,
        }
    }
}

/// The worker binary to run: the configured one, else `loupe-llm` on PATH.
pub fn worker_binary(configured: Option<&Path>) -> PathBuf {
    configured.map_or_else(|| PathBuf::from(WORKER_NAME), Path::to_path_buf)
}

/// The worker's file name (`cargo build -p loupe-llm` puts it next to `loupe`).
pub const WORKER_NAME: &str = "loupe-llm";

/// Where a worker built with the `loupe` binary lies: `loupe-llm` in the folder of `exe`, or in
/// the folder above it (`target/debug/deps/..` in tests). None when neither exists.
pub fn worker_beside(exe: &Path) -> Option<PathBuf> {
    let dir = exe.parent()?;
    [Some(dir), dir.parent()]
        .into_iter()
        .flatten()
        .map(|d| d.join(WORKER_NAME))
        .find(|c| c.is_file())
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    vision: bool,
    model: String,
}

impl Worker {
    fn start(cfg: &LocalConfig) -> Result<Self> {
        let bin = worker_binary(cfg.worker.as_deref());
        let mut cmd = Command::new(&bin);
        cmd.arg("--model").arg(&cfg.model).args([
            "--ctx",
            &cfg.n_ctx.to_string(),
            "--threads",
            &cfg.threads.to_string(),
        ]);
        if let Some(p) = &cfg.mmproj {
            cmd.arg("--mmproj").arg(p);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                Error::Local(format!(
                    "starting the worker {}: {e} (build it with `cargo build -p loupe-llm`, next to \
                     the loupe binary, or point LOUPE_LLM_WORKER at it)",
                    bin.display()
                ))
            })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(Error::Local("the worker's pipes are missing".into()));
        };
        // Keep the last lines of the worker's stderr for error messages.
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let t = tail.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(std::result::Result::ok) {
                if let Ok(mut q) = t.lock() {
                    if q.len() >= 20 {
                        q.pop_front();
                    }
                    q.push_back(line);
                }
            }
        });
        let mut w = Self {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            stderr: tail,
            vision: false,
            model: cfg.name.clone(),
        };
        match w.next_event()? {
            LlmEvent::Ready { vision, .. } => {
                w.vision = vision;
                Ok(w)
            }
            LlmEvent::Error { message } => Err(Error::Local(message)),
            other => Err(Error::Local(format!("the worker started with {other:?}"))),
        }
    }

    fn next_event(&mut self) -> Result<LlmEvent> {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self
                .stdout
                .read_line(&mut line)
                .map_err(|e| Error::Local(format!("reading from the worker: {e}")))?;
            if n == 0 {
                let status = self.child.wait().map(|s| s.to_string()).unwrap_or_default();
                std::thread::sleep(std::time::Duration::from_millis(50));
                let tail = self
                    .stderr
                    .lock()
                    .map(|q| q.iter().cloned().collect::<Vec<_>>().join("\n"))
                    .unwrap_or_default();
                return Err(Error::Local(format!("the worker exited ({status}): {tail}")));
            }
            if line.trim().is_empty() {
                continue;
            }
            return serde_json::from_str(line.trim()).map_err(|e| {
                Error::Local(format!(
                    "the worker said something unreadable ({e}): {}",
                    line.trim()
                ))
            });
        }
    }

    fn send(&mut self, line: &str) -> Result<()> {
        self.stdin
            .write_all(line.as_bytes())
            .and_then(|()| self.stdin.write_all(b"\n"))
            .and_then(|()| self.stdin.flush())
            .map_err(|e| Error::Local(format!("writing to the worker: {e}")))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The local model, behind [`ChatModel`].
pub struct LocalModel {
    cfg: LocalConfig,
    worker: Mutex<Option<Worker>>,
}

impl LocalModel {
    /// Checks the files; the worker starts on first use (or call [`LocalModel::warm_up`]).
    pub fn new(cfg: LocalConfig) -> Result<Self> {
        for p in std::iter::once(&cfg.model).chain(cfg.mmproj.as_ref()) {
            if !p.is_file() {
                return Err(Error::Config(format!(
                    "the local model file {} does not exist",
                    p.display()
                )));
            }
        }
        Ok(Self {
            cfg,
            worker: Mutex::new(None),
        })
    }

    /// Starts the worker and loads the model now, so the first question does not wait for it.
    pub fn warm_up(&self) -> Result<()> {
        let mut g = self
            .worker
            .lock()
            .map_err(|_| Error::Local("worker lock poisoned".into()))?;
        if g.is_none() {
            *g = Some(Worker::start(&self.cfg)?);
        }
        Ok(())
    }
}

impl ChatModel for LocalModel {
    fn name(&self) -> String {
        format!("local:{}", self.cfg.name)
    }

    fn vision(&self) -> bool {
        self.cfg.mmproj.is_some()
    }

    fn style(&self) -> crate::prompt::Style {
        self.cfg.prompt
    }

    fn evidence_budget(&self) -> usize {
        // About 3.5 characters a token; leave room for the rules, the question and the answer.
        ((self.cfg.n_ctx as usize).saturating_sub(900) * 3).max(1000)
    }

    fn chat(
        &self,
        turns: &[LlmTurn],
        opts: &GenOptions,
        on_text: &mut dyn FnMut(&str) -> Flow,
    ) -> Result<Generation> {
        let started = Instant::now();
        let mut guard = self
            .worker
            .lock()
            .map_err(|_| Error::Local("worker lock poisoned".into()))?;
        if guard
            .as_mut()
            .is_none_or(|w| w.child.try_wait().ok().flatten().is_some())
        {
            *guard = Some(Worker::start(&self.cfg)?);
        }
        let Some(w) = guard.as_mut() else {
            return Err(Error::Local("no worker".into()));
        };
        if !w.vision && turns.iter().any(|t| !t.images.is_empty()) {
            return Err(Error::BadRequest(format!(
                "the local model {} does not take images",
                w.model
            )));
        }
        let req = LlmRequest {
            turns: turns.to_vec(),
            max_tokens: opts.max_tokens,
            temperature: opts.temperature,
            seed: 0,
            stop: Vec::new(),
        };
        let line = serde_json::to_string(&req).map_err(|e| Error::Local(e.to_string()))?;
        let result = (|| {
            w.send(&line)?;
            let mut text = String::new();
            let mut first = None;
            let mut cancelled = false;
            loop {
                match w.next_event()? {
                    LlmEvent::Token { text: piece } => {
                        first.get_or_insert_with(|| started.elapsed().as_secs_f64() * 1000.0);
                        text.push_str(&piece);
                        if !cancelled && on_text(&piece) == Flow::Stop {
                            cancelled = true;
                            let cancel = serde_json::to_string(&LlmControl::Cancel).unwrap_or_default();
                            w.send(&cancel)?;
                        }
                    }
                    LlmEvent::Done {
                        finish_reason,
                        usage,
                        prompt_ms,
                        generate_ms,
                        cached_tokens,
                    } => {
                        let g = Generation {
                            text,
                            usage: Some(usage),
                            finish: if cancelled {
                                FinishReason::Cancelled
                            } else {
                                finish_reason
                            },
                            first_token_ms: first,
                            generate_ms: Some(generate_ms),
                            prompt_ms: Some(prompt_ms),
                            cached_tokens: Some(cached_tokens),
                        };
                        tracing::debug!(
                            "local model: prompt {} tokens ({cached_tokens} cached) in {prompt_ms:.0} ms \
                             ({:.1} tokens/s), {} generated at {:.1} tokens/s",
                            usage.prompt_tokens,
                            g.prompt_tokens_per_s().unwrap_or(f64::NAN),
                            usage.completion_tokens,
                            g.tokens_per_s().unwrap_or(f64::NAN),
                        );
                        return Ok(g);
                    }
                    LlmEvent::Error { message } => return Err(Error::Local(message)),
                    LlmEvent::Ready { .. } => {}
                }
            }
        })();
        if let Err(Error::Local(_)) = &result
            && w.child.try_wait().ok().flatten().is_some()
        {
            *guard = None; // dead: start afresh next time
        }
        result
    }
}
