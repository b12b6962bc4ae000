//! The paths a user walks with the vectors on a Qdrant server: `loupe --qdrant-url URL index`,
//! `search`, `serve`, `status --check`, `migrate --from` / `--to`, a killed indexer and a server
//! restart mid-run. The server is the in-process loopback Qdrant (Qdrant's gRPC protocol, served by
//! Qdrant Edge shards; see `qdrant-loopback/`); the `loupe` binary talks to it with the real
//! `qdrant-client`. Each result is compared with the same library indexed embedded.

mod common;

use common::*;
use image::ImageFormat;
use loupe_qdrant_loopback::Loopback;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const ARGS: &[&str] = &["--model", "tiny-clip-colour", "--no-photo-ocr"];

/// `loupe [--qdrant-url URL] ARGS` as JSON; panics on failure.
fn run(idx: &Path, url: Option<&str>, args: &[&str]) -> Value {
    let mut all: Vec<&str> = Vec::new();
    if let Some(u) = url {
        all.extend(["--qdrant-url", u]);
    }
    all.extend_from_slice(args);
    loupe_json(idx, &all)
}

fn index(idx: &Path, url: Option<&str>, lib: &Path) -> Value {
    let mut args = vec!["index", lib.to_str().unwrap()];
    args.extend_from_slice(ARGS);
    run(idx, url, &args)
}

fn library(lib: &Path, photos: usize) {
    let colours = [RED, GREEN, BLUE, YELLOW, WHITE, BLACK];
    for i in 0..photos {
        let mut img = disc(160, 120, colours[i % 6], colours[(i / 6) % 6]);
        for dx in 0..4 {
            img.put_pixel(4 * i as u32 + dx, 0, image::Rgb([i as u8, 255 - i as u8, 7]));
        }
        write(
            &lib.join(format!("d{}/img{i:03}.jpg", i % 3)),
            &encode(&img, ImageFormat::Jpeg),
        );
    }
    write(
        &lib.join("docs/report.pdf"),
        &simple_pdf(&["Quarterly report", "Total due 518.00 EUR"]),
    );
}

/// Every hit of a search: (deep link, rounded score), in order.
fn hits(idx: &Path, url: Option<&str>, q: &[&str]) -> Vec<(String, i64)> {
    let mut args = vec!["search"];
    args.extend_from_slice(q);
    args.extend(["--limit", "100"]);
    run(idx, url, &args)["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["deep_link"].as_str().unwrap().to_string(),
                (h["score"].as_f64().unwrap_or(0.0) * 1e4).round() as i64,
            )
        })
        .collect()
}

fn status(idx: &Path, url: Option<&str>) -> Value {
    let v = run(idx, url, &["status", "--check"]);
    assert_eq!(v["consistent"], true, "{v}");
    v
}

fn counts(v: &Value) -> [u64; 4] {
    ["files", "assets", "points", "text_docs"].map(|k| v[k].as_u64().unwrap())
}

#[test]
fn index_search_serve_and_migrate_on_a_qdrant_server() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    library(&lib, 18);
    let server = Loopback::start(&tmp.path().join("qdrant")).unwrap();
    let plain = server.url();
    let url = Some(plain.as_str());

    let embedded = tmp.path().join("embedded");
    let remote = tmp.path().join("remote");
    index(&embedded, None, &lib);
    let r = index(&remote, url, &lib);
    assert_eq!(r["indexed"], 19, "{r}");
    assert!(
        server.calls_to("Upsert") > 0,
        "the vectors did not go to the server"
    );
    let want = status(&embedded, None);
    let got = status(&remote, url);
    assert_eq!(counts(&got), counts(&want));
    assert!(
        got["vectors"].as_str().unwrap().contains("Qdrant server"),
        "{got}"
    );
    // The embedded store of a server-backed index holds nothing.
    assert!(!remote.join("vectors").exists());

    // The same answers on either backend, filters included.
    let d1 = lib.join("d1");
    let queries: &[&[&str]] = &[
        &["red"],
        &["yellow", "--path-prefix", d1.to_str().unwrap()],
        &["green", "--min-duration", "1"],
        &["quarterly report"],
        &["blue", "--kind", "image"],
    ];
    for q in queries {
        assert_eq!(hits(&remote, url, q), hits(&embedded, None, q), "{q:?}");
    }

    // Without the server, the index says what it needs.
    let out = loupe(&remote, &["--json", "status"]);
    assert!(!out.status.success());
    let err: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(err["code"], "config", "{err}");
    assert!(err["message"].as_str().unwrap().contains("--qdrant-url"), "{err}");

    // The HTTP API on the server backend answers as the embedded one.
    let srv = LoupeServer::start(&remote, &["--qdrant-url", &plain], &[]);
    let agent = http_agent();
    let body = serde_json::json!({"text": "red", "limit": 50}).to_string();
    let mut resp = agent
        .post(&srv.url("/v1/search"))
        .header("Content-Type", "application/json")
        .send(body)
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", srv.log_tail());
    let v: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    let http: Vec<String> = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["asset"]["path"].as_str().unwrap().to_string())
        .collect();
    let cli: Vec<String> = run(&embedded, None, &["search", "red", "--limit", "50"])["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["asset"]["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(http, cli);
    drop(srv);

    // Back to embedded, and out again: the same index each time.
    let before = hits(&remote, url, &["red"]);
    let m = run(&remote, None, &["migrate", "--from", &plain, "--quiet"]);
    assert_eq!(m["points"], want["points"], "{m}");
    assert_eq!(counts(&status(&remote, None)), counts(&want));
    assert_eq!(hits(&remote, None, &["red"]), before);
    let m = run(&remote, None, &["migrate", "--to", &plain, "--quiet"]);
    assert!(m["verified"].as_u64().unwrap() > 0, "{m}");
    assert_eq!(counts(&status(&remote, url)), counts(&want));
    assert_eq!(hits(&remote, url, &["red"]), before);
}

fn spawn_index(idx: &Path, url: &str, lib: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_loupe"))
        .arg("--index")
        .arg(idx)
        .arg("--models")
        .arg(models_dir())
        .args(["--qdrant-url", url, "--json", "index"])
        .arg(lib)
        .args(ARGS)
        .args(["--batch", "4"])
        .env("LOUPE_CONFIG", "/dev/null")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A killed indexer, then a server that restarts and drops its connections in the middle of a
/// run: `loupe index` again ends in the index a clean run gives, nothing lost or doubled.
#[test]
fn killed_indexer_and_restarting_server_then_resume_equals_a_clean_run() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    library(&lib, 36);
    let mut server = Loopback::start(&tmp.path().join("qdrant")).unwrap();
    let url = server.url();

    let killed = tmp.path().join("killed");
    for wait_ms in [300, 700, 1200] {
        let mut child = spawn_index(&killed, &url, &lib);
        std::thread::sleep(Duration::from_millis(wait_ms));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    // A run during which the server restarts, then drops every connection: retried, not failed.
    let child = spawn_index(&killed, &url, &lib);
    std::thread::sleep(Duration::from_millis(400));
    server.restart().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    server.drop_connections().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the run failed across a server restart: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resumed = index(&killed, Some(&url), &lib);
    assert_eq!(resumed["failed"].as_array().unwrap().len(), 0, "{resumed}");

    let clean = tmp.path().join("clean");
    index(&clean, Some(&url), &lib);
    let (want, got) = (status(&clean, Some(&url)), status(&killed, Some(&url)));
    assert_eq!(counts(&got), counts(&want), "resumed {got}\nclean {want}");
    assert_eq!(want["files"], 37);
    for q in ["yellow", "quarterly report"] {
        assert_eq!(
            hits(&killed, Some(&url), &[q]),
            hits(&clean, Some(&url), &[q]),
            "{q}"
        );
    }
}
