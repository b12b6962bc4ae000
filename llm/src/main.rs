//! `loupe-llm`: the local model worker. Loads one GGUF model, then serves generations: one JSON
//! request per line on stdin, JSON events per line on stdout (see `loupe_schemas::llm`). Loupe
//! starts it; it is not meant to be run by hand, though `--prompt` runs one question for a quick
//! check.

use clap::Parser;
use loupe_llm::{Engine, EngineOptions};
use loupe_schemas::llm::{LlmControl, LlmEvent, LlmRequest, LlmTurn, Role};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::mpsc;

#[derive(Parser)]
#[command(version, about = "Loupe's local model worker (llama.cpp)")]
struct Args {
    /// The GGUF model.
    #[arg(long)]
    model: PathBuf,
    /// Its vision projector (mmproj GGUF), for a vision-language model.
    #[arg(long)]
    mmproj: Option<PathBuf>,
    /// Context length in tokens.
    #[arg(long, default_value_t = 4096)]
    ctx: u32,
    /// CPU threads (0 = all).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Print llama.cpp's own log on stderr.
    #[arg(long)]
    verbose: bool,
    /// Answer this one prompt, print the text and exit.
    #[arg(long)]
    prompt: Option<String>,
}

fn main() {
    let args = Args::parse();
    let opts = EngineOptions {
        model: args.model.clone(),
        mmproj: args.mmproj.clone(),
        n_ctx: args.ctx,
        threads: args.threads,
    };
    let mut engine = match Engine::load(&opts, args.verbose) {
        Ok(e) => e,
        Err(e) => {
            send(&LlmEvent::Error {
                message: e.to_string(),
            });
            eprintln!("loupe-llm: {e}");
            std::process::exit(2);
        }
    };
    if let Some(p) = args.prompt {
        let req = LlmRequest {
            turns: vec![LlmTurn {
                role: Role::User,
                content: p,
                images: Vec::new(),
            }],
            max_tokens: 256,
            temperature: 0.0,
            seed: 0,
            stop: Vec::new(),
        };
        let mut out = std::io::stdout();
        let r = engine.generate(&req, &mut || false, &mut |ev| {
            if let LlmEvent::Token { text } = ev {
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
            }
        });
        println!();
        if let Err(e) = r {
            eprintln!("loupe-llm: {e}");
            std::process::exit(1);
        }
        return;
    }
    send(&engine.ready_event());

    // stdin is read on its own thread so a cancel line can arrive while a generation runs.
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut queued: std::collections::VecDeque<String> = Default::default();
    loop {
        let line = match queued.pop_front() {
            Some(l) => l,
            None => match rx.recv() {
                Ok(l) => l,
                Err(_) => return, // stdin closed: the parent is gone
            },
        };
        if line.trim().is_empty() || serde_json::from_str::<LlmControl>(&line).is_ok() {
            continue; // a cancel with nothing running
        }
        let req: LlmRequest = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                send(&LlmEvent::Error {
                    message: format!("bad request line: {e}"),
                });
                continue;
            }
        };
        let mut cancelled = || loop {
            match rx.try_recv() {
                Ok(l) if serde_json::from_str::<LlmControl>(&l).is_ok() => return true,
                Ok(l) => queued.push_back(l),
                Err(mpsc::TryRecvError::Empty) => return false,
                Err(mpsc::TryRecvError::Disconnected) => return true,
            }
        };
        if let Err(e) = engine.generate(&req, &mut cancelled, &mut |ev| send(&ev)) {
            send(&LlmEvent::Error {
                message: e.to_string(),
            });
        }
    }
}

fn send(ev: &LlmEvent) {
    let mut out = std::io::stdout().lock();
    // The parent going away ends the worker on its next read; nothing to do about a failed write.
    if serde_json::to_writer(&mut out, ev).is_ok() {
        let _ = out.write_all(b"\n");
        let _ = out.flush();
    }
}
