//! The vision path of the local answerer, end to end, with the generated test VLM
//! `tiny-vlm-qwen0.5b` that `scripts/setup` makes: the real Qwen2.5-Coder-0.5B GGUF plus a
//! generated vision projector (fixtures/make_tiny_mmproj.py: a CLIP-style tower and an MLP
//! projector with seeded random weights, in the layout llama.cpp's libmtmd loads).
//!
//! What this proves is the plumbing: image bytes -> bitmap -> llama.cpp's preprocessing -> vision
//! encoder -> projector -> embeddings in the prompt -> generation, several images in one question,
//! images far larger and far smaller than the encoder's input, bad images refused with a clear
//! error by a worker that keeps serving, and `loupe ask` handing its (resized) evidence images to
//! a VLM. It does not prove visual understanding: the vision weights are random, so what the model
//! says about an image is meaningless.
//!
//! Nothing is skipped: without the model folder (or the worker binary) the tests fail and say how
//! to get it.

mod common;

use base64::Engine as _;
use common::*;
use image::ImageFormat;
use loupe_answer::local::{LocalConfig, worker_beside};
use loupe_schemas::llm::{LlmEvent, LlmRequest, LlmTurn, Role, Usage};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const VLM: &str = "tiny-vlm-qwen0.5b";
const LLM: &str = "qwen2.5-coder-0.5b-instruct";
/// Embeddings per image from the generated projector: (112 / 14)^2 (fixtures/make_tiny_mmproj.py).
const IMAGE_TOKENS: u32 = 64;
/// The large test image's long side: beyond what the evidence path hands a vision model.
const BIG_SIDE: u32 = 3000;
const _: () = assert!(BIG_SIDE > loupe_answer::evidence::MAX_IMAGE_SIDE);

/// One model at a time: two llama.cpp workers on a 2-core machine slow each other down many times
/// over (their threads spin while they wait for each other).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn vlm_dir() -> PathBuf {
    let dir = models_dir().join(VLM);
    assert!(
        dir.join("loupe-model.json").is_file() && dir.join("mmproj.gguf").is_file(),
        "the generated test VLM '{VLM}' is not installed in {}: run scripts/setup \
         (it builds it from '{LLM}' and fixtures/make_tiny_mmproj.py)",
        models_dir().display()
    );
    dir
}

fn worker_binary() -> PathBuf {
    let loupe = Path::new(env!("CARGO_BIN_EXE_loupe"));
    worker_beside(loupe).unwrap_or_else(|| {
        panic!(
            "the loupe-llm worker is not built next to {}: run `cargo build -p loupe-llm` \
             (scripts/test does)",
            loupe.display()
        )
    })
}

/// The `loupe-llm` worker, spoken to over its JSON-lines protocol, as the answer crate does.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

/// What one request came back with.
#[derive(Debug)]
struct Reply {
    text: String,
    usage: Usage,
}

impl Worker {
    /// Starts the worker on a model folder laid out as `LocalConfig::from_model_dir` reads it.
    fn start(dir: &Path, n_ctx: u32) -> (Self, LlmEvent) {
        let cfg = LocalConfig::from_model_dir(dir, VLM);
        let mmproj = cfg.mmproj.as_ref().expect("the model folder has mmproj.gguf");
        let mut child = Command::new(worker_binary())
            .arg("--model")
            .arg(&cfg.model)
            .arg("--mmproj")
            .arg(mmproj)
            .args(["--ctx", &n_ctx.to_string(), "--threads", "0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting loupe-llm");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut l) = sink.lock() {
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut w = Self {
            child,
            stdin,
            lines,
            stderr: log,
        };
        let ready = w.next_event();
        (w, ready)
    }

    fn stderr_tail(&self) -> String {
        std::thread::sleep(Duration::from_millis(100));
        let log = self.stderr.lock().map(|l| l.clone()).unwrap_or_default();
        let start = log.len().saturating_sub(4000);
        let start = (start..log.len()).find(|i| log.is_char_boundary(*i)).unwrap_or(0);
        log[start..].to_string()
    }

    fn next_event(&mut self) -> LlmEvent {
        match self.lines.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("the worker said something unreadable ({e}): {line}")),
            Err(RecvTimeoutError::Timeout) => {
                panic!("the worker said nothing for 120 s: {}", self.stderr_tail())
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.wait().map(|s| s.to_string()).unwrap_or_default();
                panic!("the worker exited ({status}): {}", self.stderr_tail())
            }
        }
    }

    fn send_line(&mut self, line: &str) {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| self.stdin.flush())
            .unwrap_or_else(|e| panic!("writing to the worker: {e}: {}", self.stderr_tail()));
    }

    /// Sends one line and reads events up to `done` (Ok) or `error` (Err with its message).
    fn request_line(&mut self, line: &str) -> Result<Reply, String> {
        self.send_line(line);
        let mut text = String::new();
        loop {
            match self.next_event() {
                LlmEvent::Token { text: t } => text.push_str(&t),
                LlmEvent::Done { usage, .. } => return Ok(Reply { text, usage }),
                LlmEvent::Error { message } => return Err(message),
                LlmEvent::Ready { .. } => panic!("a second ready event"),
            }
        }
    }

    /// One user question with these encoded images (base64 here, as the answer crate sends them),
    /// answered greedily in at most `max_tokens` tokens.
    fn ask(&mut self, question: &str, images: &[Vec<u8>], max_tokens: u32) -> Result<Reply, String> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let req = LlmRequest {
            turns: vec![LlmTurn {
                role: Role::User,
                content: question.to_string(),
                images: images.iter().map(|i| b64.encode(i)).collect(),
            }],
            max_tokens,
            temperature: 0.0,
            seed: 0,
            stop: Vec::new(),
        };
        self.request_line(&serde_json::to_string(&req).unwrap())
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ok(r: Result<Reply, String>, what: &str) -> Reply {
    r.unwrap_or_else(|e| panic!("{what}: the worker refused: {e}"))
}

fn refused(r: Result<Reply, String>, what: &str) -> String {
    match r {
        Ok(reply) => panic!("{what}: expected a clear error, got {reply:?}"),
        Err(e) => e,
    }
}

#[test]
fn vlm_worker_encodes_images_and_refuses_bad_ones_cleanly() {
    let dir = vlm_dir();
    let _one = one_at_a_time();
    let started = Instant::now();
    let (mut w, ready) = Worker::start(&dir, 1024);
    match ready {
        LlmEvent::Ready { vision, n_ctx, .. } => {
            assert!(vision, "the projector did not load as a vision projector");
            assert_eq!(n_ctx, 1024);
        }
        other => panic!("the worker did not start: {other:?}\n{}", w.stderr_tail()),
    }
    let q = "Describe the picture in one short sentence.";

    // No image, one image, three images in one question.
    let r0 = ok(w.ask(q, &[], 8), "no image");
    assert!(!r0.text.trim().is_empty(), "no text without an image: {r0:?}");
    let red = encode(&disc(256, 256, RED, WHITE), ImageFormat::Png);
    let r1 = ok(w.ask(q, std::slice::from_ref(&red), 8), "one image");
    assert!(!r1.text.trim().is_empty(), "no text for one image: {r1:?}");
    assert!(r1.usage.completion_tokens > 0, "{r1:?}");
    let per_image = r1.usage.prompt_tokens - r0.usage.prompt_tokens;
    // The image's embeddings are prompt positions (plus the line break after its marker).
    assert!(
        (IMAGE_TOKENS..=IMAGE_TOKENS + 4).contains(&per_image),
        "one image added {per_image} prompt tokens, expected {IMAGE_TOKENS} (+ its line break): \
         {r0:?} / {r1:?}"
    );
    let three = [
        red.clone(),
        encode(&disc(320, 200, BLUE, YELLOW), ImageFormat::Jpeg),
        encode(&solid(640, 480, GREEN), ImageFormat::Jpeg),
    ];
    let r3 = ok(w.ask(q, &three, 8), "three images");
    assert!(!r3.text.trim().is_empty(), "no text for three images: {r3:?}");
    assert_eq!(
        r3.usage.prompt_tokens,
        r0.usage.prompt_tokens + 3 * per_image,
        "three images must cost three times one: {r0:?} / {r1:?} / {r3:?}"
    );

    // Far larger (3000x2000, beyond the evidence path's MAX_IMAGE_SIDE) and far smaller (8x8)
    // than the encoder's 112x112 input: both are resized by llama.cpp to the same token count.
    let big = encode(&disc(BIG_SIDE, 2000, RED, BLACK), ImageFormat::Jpeg);
    let rb = ok(w.ask(q, &[big], 1), "a 3000x2000 image");
    assert_eq!(rb.usage.prompt_tokens, r1.usage.prompt_tokens, "{rb:?}");
    let tiny = encode(&solid(8, 8, BLUE), ImageFormat::Png);
    let rt = ok(w.ask(q, &[tiny], 1), "an 8x8 image");
    assert_eq!(rt.usage.prompt_tokens, r1.usage.prompt_tokens, "{rt:?}");

    // Bad input: a clear error each time, and the same worker process goes on serving.
    let e = refused(
        w.ask(q, &[b"this is not an image at all".to_vec()], 1),
        "corrupt bytes",
    );
    assert!(e.contains("could not be decoded"), "{e}");
    let e = refused(w.ask(q, &[red[..red.len() / 3].to_vec()], 1), "a truncated PNG");
    assert!(e.contains("could not be decoded"), "{e}");
    let e = refused(
        w.ask(q, &[red.clone(), b"\x89PNG\r\n\x1a\n garbage".to_vec()], 1),
        "one good and one corrupt image",
    );
    assert!(e.contains("could not be decoded"), "{e}");
    let e = refused(
        w.request_line(
            r#"{"turns":[{"role":"user","content":"x","images":["%%% not base64"]}],"max_tokens":4}"#,
        ),
        "an image that is not base64",
    );
    assert!(e.contains("not base64"), "{e}");
    // More images than the context holds (16 x 65 > 1024): refused before any is encoded.
    let many = vec![encode(&solid(16, 16, RED), ImageFormat::Png); 16];
    let e = refused(w.ask(q, &many, 1), "16 images in a 1024-token context");
    assert!(e.contains("context"), "{e}");
    assert!(w.alive(), "the worker died on bad input: {}", w.stderr_tail());
    let again = ok(
        w.ask(q, std::slice::from_ref(&red), 8),
        "one image after the errors",
    );
    assert_eq!(again.usage.prompt_tokens, r1.usage.prompt_tokens);
    assert_eq!(again.text, r1.text, "greedy decoding of the same prompt differs");

    eprintln!(
        "vlm worker: prompt tokens 0/1/3 images = {}/{}/{}, {} per image; {:.1} s; one-image text: {:?}",
        r0.usage.prompt_tokens,
        r1.usage.prompt_tokens,
        r3.usage.prompt_tokens,
        per_image,
        started.elapsed().as_secs_f64(),
        r1.text
    );
}

/// `loupe --json ask QUESTION --answerer local --llm-model MODEL` with a clean configuration.
fn ask_local(index: &Path, question: &str, model: Option<&str>) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loupe"));
    cmd.arg("--index")
        .arg(index)
        .arg("--models")
        .arg(models_dir())
        .args([
            "--json",
            "ask",
            question,
            "--answerer",
            "local",
            "--max-tokens",
            "16",
        ])
        .env("LOUPE_CONFIG", "/dev/null")
        .env("LOUPE_LLM_WORKER", worker_binary())
        .env_remove("LOUPE_MODEL")
        .env_remove("LOUPE_LLM_MODEL")
        .env_remove("LOUPE_ANSWERER")
        .env_remove("LOUPE_QDRANT_URL");
    if let Some(m) = model {
        cmd.args(["--llm-model", m]);
    }
    let out = cmd.output().expect("running loupe");
    assert!(
        out.status.success(),
        "loupe ask ({model:?}): {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn ask_hands_resized_evidence_images_to_the_vlm_and_default_stays_text() {
    vlm_dir();
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    // A photo far larger than MAX_IMAGE_SIDE: the evidence path shrinks it before the VLM sees it.
    write(
        &lib.join("red-poster.jpg"),
        &encode(&disc(BIG_SIDE, 2000, RED, WHITE), ImageFormat::Jpeg),
    );
    let index = dir.path().join("index");
    let out = loupe(
        &index,
        &[
            "index",
            lib.to_str().unwrap(),
            "--quiet",
            "--speech-model",
            "none",
        ],
    );
    assert!(
        out.status.success(),
        "index: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let q = "What colour is the poster?";

    let vlm = ask_local(&index, q, Some(VLM));
    assert_eq!(vlm["answerer"], format!("local:{VLM}"), "{vlm:#}");
    assert!(
        vlm["citations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["path"].as_str().unwrap().ends_with("red-poster.jpg")),
        "{vlm:#}"
    );
    // The generated VLM is test-only: the default local model is still the text model.
    let text = ask_local(&index, q, None);
    assert_eq!(text["answerer"], format!("local:{LLM}"), "{text:#}");
    let (pv, pt) = (
        vlm["usage"]["prompt_tokens"].as_u64().expect("usage"),
        text["usage"]["prompt_tokens"].as_u64().expect("usage"),
    );
    // Same question, same evidence text; the VLM's prompt also holds the photo's embeddings.
    assert!(
        pv >= pt + u64::from(IMAGE_TOKENS),
        "the VLM's prompt ({pv} tokens) is not an image larger than the text model's ({pt})"
    );
    eprintln!("loupe ask: prompt tokens text model {pt}, test VLM with the photo {pv}");
}
