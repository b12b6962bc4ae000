//! Fault tests: `loupe index` killed with SIGKILL at random moments many times, searches served
//! while an index job runs, a full disk, and a library of hostile files. Each ends by checking
//! the index with `loupe status --check` (catalog, Qdrant and tantivy agree: no orphan points or
//! documents, one document per segment) and, where there is one, against a clean run.
//!
//! The kill moments come from a seed printed at the start (`LOUPE_FAULT_SEED=N` repeats a run).

mod common;

use common::*;
use image::ImageFormat;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ARGS: &[&str] = &["--model", "tiny-clip-colour", "--no-photo-ocr"];

fn index(idx: &Path, lib: &Path) -> Value {
    let mut args = vec!["index", lib.to_str().unwrap()];
    args.extend_from_slice(ARGS);
    loupe_json(idx, &args)
}

/// `loupe status --check --json`: the counts and the consistency report.
fn check(idx: &Path) -> Value {
    let out = loupe(idx, &["--json", "status", "--check"]);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("status: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(
        out.status.success() && v["consistent"] == true,
        "index at {} is inconsistent: {v}",
        idx.display()
    );
    v
}

fn counts(v: &Value) -> [u64; 5] {
    let n = |x: &Value| x.as_u64().unwrap_or_else(|| panic!("counts in {v}"));
    [
        n(&v["files"]),
        n(&v["assets"]),
        n(&v["points"]),
        n(&v["text_docs"]),
        n(&v["check"]["segments"]),
    ]
}

/// Every hit of a broad search, as (path, rounded visual score): equal sets mean equal indexes.
fn scored(idx: &Path, q: &str) -> Vec<(String, i64)> {
    let r = loupe_json(idx, &["search", q, "--limit", "200"]);
    let mut v: Vec<(String, i64)> = r["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let s = h["signals"]
                .as_array()
                .and_then(|s| s.iter().find(|s| s["signal"] == "visual"))
                .and_then(|s| s["score"].as_f64())
                .unwrap_or(-1.0);
            (
                h["deep_link"].as_str().unwrap().to_string(),
                (s * 1e4).round() as i64,
            )
        })
        .collect();
    v.sort();
    v
}

/// xorshift64*, seeded from the clock unless `LOUPE_FAULT_SEED` is set.
struct Rng(u64);
impl Rng {
    fn from_env() -> Self {
        let seed = std::env::var("LOUPE_FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            })
            | 1;
        eprintln!("LOUPE_FAULT_SEED={seed}");
        Self(seed)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// A mixed library: unique photos in three folders and PDFs with a text layer.
fn library(lib: &Path, photos: usize) {
    let colours = [RED, GREEN, BLUE, YELLOW, WHITE, BLACK];
    for i in 0..photos {
        let mut img = disc(320, 240, colours[i % 6], colours[(i / 6) % 6]);
        for dx in 0..4 {
            img.put_pixel(4 * i as u32 + dx, 0, image::Rgb([i as u8, 255 - i as u8, 7]));
        }
        write(
            &lib.join(format!("d{}/img{i:03}.jpg", i % 3)),
            &encode(&img, ImageFormat::Jpeg),
        );
    }
    for i in 0..4 {
        write(
            &lib.join(format!("docs/report{i}.pdf")),
            &simple_pdf(&[&format!("Quarterly report number {i}"), "Total due 518.00 EUR"]),
        );
    }
}

fn spawn_index(idx: &Path, lib: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_loupe"))
        .arg("--index")
        .arg(idx)
        .arg("--models")
        .arg(models_dir())
        .args(["--json", "index"])
        .arg(lib)
        .args(ARGS)
        .args(["--batch", "4"])
        .env("LOUPE_CONFIG", "/dev/null")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn sigkill_at_random_moments_then_resume_equals_a_clean_run() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    library(&lib, 60);
    // A file that is there for the first killed runs and gone before the last: whatever a
    // killed run wrote for it must not stay behind.
    let doomed = lib.join("d0/doomed.png");
    write(&doomed, &encode(&disc(300, 300, GREEN, BLACK), ImageFormat::Png));

    let killed = tmp.path().join("killed");
    let mut rng = Rng::from_env();
    // Time to the first write, to aim the kills at the writing part of a run.
    let t = Instant::now();
    let probe = tmp.path().join("probe");
    index(&probe, &lib.join("d1"));
    let run_ms = (t.elapsed().as_millis() as u64).max(300);
    let kills = 12;
    for round in 0..kills {
        if round == kills / 2 {
            std::fs::remove_file(&doomed).unwrap();
        }
        let mut child = spawn_index(&killed, &lib);
        std::thread::sleep(Duration::from_millis(50 + rng.below(run_ms * 2)));
        child.kill().unwrap(); // SIGKILL: no chance to clean up
        child.wait().unwrap();
    }
    let resumed = index(&killed, &lib);
    assert_eq!(resumed["failed"].as_array().unwrap().len(), 0, "{resumed}");

    let clean = tmp.path().join("clean");
    index(&clean, &lib);
    let (want, got) = (check(&clean), check(&killed));
    assert_eq!(counts(&got), counts(&want), "resumed {got}\nclean {want}");
    assert_eq!(want["files"], 64);
    for q in ["yellow", "quarterly report"] {
        assert_eq!(scored(&killed, q), scored(&clean, q), "{q}");
    }
    // A run over an unchanged library finds nothing to do.
    let again = index(&killed, &lib);
    assert_eq!(
        (again["indexed"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(64)),
        "{again}"
    );
}

#[test]
fn searches_are_answered_while_an_index_job_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let (lib, idx) = (tmp.path().join("lib"), tmp.path().join("index"));
    library(&lib, 45);
    // Start from an index of one folder, then let the server index the rest.
    index(&idx, &lib.join("d0"));
    let s = LoupeServer::start(&idx, &["--root", lib.to_str().unwrap()], &[]);
    let agent = http_agent();
    let post = |path: &str, body: &Value| {
        let mut r = agent
            .post(s.url(path))
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .unwrap();
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap();
        (
            status,
            serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text)),
        )
    };
    let job = post("/v1/index", &json!({"path": lib}));
    assert_eq!(job.0, 202, "{}", job.1);
    let job_id = job.1["id"].as_str().unwrap().to_string();

    // Two clients search without pause while the job runs; the number of photos found may only
    // grow (each batch becomes visible as a whole), and every answer is a 200.
    let done = std::sync::atomic::AtomicBool::new(false);
    let seen: Vec<Vec<usize>> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..2)
            .map(|c| {
                let (done, post) = (&done, &post);
                scope.spawn(move || {
                    let mut found = Vec::new();
                    while !done.load(std::sync::atomic::Ordering::SeqCst) {
                        let q = if c == 0 { "red" } else { "report" };
                        let (status, body) = post(
                            "/v1/search",
                            &json!({"text": q, "limit": 200, "filters": {"kinds": ["image"]}}),
                        );
                        assert_eq!(status, 200, "{body}");
                        found.push(body["hits"].as_array().unwrap().len());
                    }
                    found
                })
            })
            .collect();
        let t = Instant::now();
        loop {
            let mut r = agent.get(s.url(&format!("/v1/jobs/{job_id}"))).call().unwrap();
            let state: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
            if state["state"] == "done" || state["state"] == "failed" {
                assert_eq!(state["state"], "done", "{state}");
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(600),
                "job never finished: {state}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        clients.into_iter().map(|c| c.join().unwrap()).collect()
    });
    for found in &seen {
        assert!(found.len() >= 3, "too few searches during the job: {found:?}");
        assert!(
            found.windows(2).all(|w| w[0] <= w[1]),
            "results shrank: {found:?}"
        );
        assert_eq!(*found.first().unwrap(), 15, "{found:?}");
    }
    // All 45 photos are found once the job is done.
    let (_, last) = post(
        "/v1/search",
        &json!({"text": "red", "limit": 200, "filters": {"kinds": ["image"]}}),
    );
    assert_eq!(last["hits"].as_array().unwrap().len(), 45);
    drop(s);
    check(&idx);
}

/// Runs `script` (sh) in a private mount namespace where it may mount a tmpfs: directly as root,
/// else in a user namespace. None (with the reason) where neither is allowed.
fn in_mount_namespace(script: &str, env: &[(&str, &Path)]) -> Result<std::process::Output, String> {
    let root = is_root();
    let mut cmd = Command::new("unshare");
    if root {
        cmd.arg("--mount");
    } else {
        cmd.args(["--user", "--map-root-user", "--mount"]);
    }
    cmd.args(["sh", "-euc", script]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().map_err(|e| format!("unshare: {e}"))?;
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("unshare failed") || err.contains("Operation not permitted") && !out.status.success() {
        return Err(format!("no mount namespace here: {err}"));
    }
    Ok(out)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

#[test]
fn a_full_disk_gives_a_clear_error_and_a_consistent_index() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    library(&lib, 60);
    let full = tmp.path().join("full");
    let clean = index(&full, &lib);
    assert_eq!(clean["indexed"], 64);
    // A 200 MiB disk, filled with ballast after the index is started until 64 MiB + 160 KiB are
    // free: Loupe stops writing below 64 MiB free (LOUPE_MIN_FREE_MB's default), so a few
    // batches go in, then the run stops with a clear error. Removing the ballast frees the disk.
    let mnt = tmp.path().join("disk");
    std::fs::create_dir_all(&mnt).unwrap();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_loupe"));
    let script = r#"
        mount -t tmpfs -o size=200m tmpfs "$MNT"
        run() { "$BIN" --index "$MNT/index" --models "$MODELS" "$@"; }
        opts="--model tiny-clip-colour --no-photo-ocr"
        run --json index "$LIB/d1" $opts > "$OUT/start.json" 2> "$OUT/start.err"
        avail=$(df -k --output=avail "$MNT" | tail -1)
        dd if=/dev/zero of="$MNT/ballast" bs=1k count=$((avail - 65536 - 160)) status=none
        set +e
        run --json index "$LIB" $opts > "$OUT/full.json" 2> "$OUT/full.err"
        echo $? > "$OUT/full.rc"
        run --json status --check > "$OUT/check1.json" 2>&1
        echo $? > "$OUT/check1.rc"
        rm "$MNT/ballast"
        run --json index "$LIB" $opts > "$OUT/again.json" 2> "$OUT/again.err"
        echo $? > "$OUT/again.rc"
        run --json status --check > "$OUT/check2.json" 2>&1
        echo $? > "$OUT/check2.rc"
        "#;
    let out_dir = tmp.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let models = models_dir();
    let env = [
        ("MNT", mnt.as_path()),
        ("BIN", bin.as_path()),
        ("MODELS", models.as_path()),
        ("LIB", lib.as_path()),
        ("OUT", out_dir.as_path()),
    ];
    let out = match in_mount_namespace(script, &env) {
        Ok(o) => o,
        Err(why) => {
            eprintln!("SKIPPED: a full disk needs a tmpfs, and {why}");
            return;
        }
    };
    let read = |n: &str| std::fs::read_to_string(out_dir.join(n)).unwrap_or_default();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        read("start.err")
    );
    // The run on the full disk fails, and says why.
    assert_ne!(
        read("full.rc").trim(),
        "0",
        "indexing did not fail: {}",
        read("full.json")
    );
    let said = format!("{}{}", read("full.json"), read("full.err")).to_lowercase();
    assert!(
        said.contains("disk_full") && said.contains("is full"),
        "unclear error: {said}"
    );
    // What it wrote is consistent, and after space is freed a run completes it.
    assert_eq!(read("check1.rc").trim(), "0", "{}", read("check1.json"));
    assert_eq!(
        read("again.rc").trim(),
        "0",
        "{}{}",
        read("again.json"),
        read("again.err")
    );
    assert_eq!(read("check2.rc").trim(), "0", "{}", read("check2.json"));
    let after: Value = serde_json::from_str(&read("check2.json")).unwrap();
    let want = check(&full);
    assert_eq!(counts(&after), counts(&want), "after {after}\nclean {want}");
}

#[test]
fn hostile_files_are_reported_and_the_rest_indexed() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let (lib, idx) = (tmp.path().join("lib"), tmp.path().join("index"));
    // The good ones.
    write(
        &lib.join("good.png"),
        &encode(&disc(64, 64, RED, WHITE), ImageFormat::Png),
    );
    write(&lib.join("report.pdf"), &simple_pdf(&["A perfectly good page"]));
    let video = tmp.path().join("src.mp4");
    make_video(&video, &["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"]);
    let mp4 = std::fs::read(&video).unwrap();
    write(&lib.join("clip.mp4"), &mp4);
    // Wrong extensions with good content: read by content.
    write(
        &lib.join("really_png.jpg"),
        &encode(&solid(32, 32, GREEN), ImageFormat::Png),
    );
    // A non-UTF-8 name ("caf\xe9.png" in Latin-1): reported, not indexed (paths are stored as
    // text, so a name that is not UTF-8 cannot be stored faithfully).
    let latin1 = lib.join(std::ffi::OsStr::from_bytes(b"caf\xe9.png"));
    write(&latin1, &encode(&disc(64, 64, BLUE, WHITE), ImageFormat::Png));

    // The bad ones.
    let png = encode(&disc(256, 256, RED, WHITE), ImageFormat::Png);
    write(&lib.join("truncated.png"), &png[..png.len() / 3]);
    write(&lib.join("truncated.mp4"), &mp4[..mp4.len() / 4]);
    write(
        &lib.join("noise.mp4"),
        &(0..50_000u32).map(|i| (i * 7919 % 251) as u8).collect::<Vec<_>>(),
    );
    let pdf = simple_pdf(&["cut short"]);
    write(&lib.join("truncated.pdf"), &pdf[..pdf.len() / 2]);
    write(
        &lib.join("garbage.pdf"),
        b"%PDF-1.7\n this is not a pdf body at all",
    );
    write(&lib.join("bomb.png"), &png_bomb(100_000, 100_000));
    write(&lib.join("text_as.mp4"), b"plain text pretending to be a video");
    // Content decides when the name lies: this one is read as the PDF it is.
    write(&lib.join("pdf_as.png"), &simple_pdf(&["a pdf behind a png name"]));
    std::os::unix::fs::symlink(&lib, lib.join("loop")).unwrap();
    std::os::unix::fs::symlink(lib.join("nowhere.png"), lib.join("dangling.png")).unwrap();
    let locked = lib.join("locked.png");
    write(&locked, &encode(&solid(16, 16, RED), ImageFormat::Png));
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let locked_dir = lib.join("private");
    write(
        &locked_dir.join("inside.png"),
        &encode(&solid(16, 16, BLUE), ImageFormat::Png),
    );
    std::fs::set_permissions(&locked_dir, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();

    // Root reads everything; drop the capabilities that let it, so permissions count.
    let mut cmd = if is_root() {
        let mut c = Command::new("capsh");
        c.args(["--drop=cap_dac_override,cap_dac_read_search", "--"])
            .arg("-c")
            .arg("exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_loupe"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_loupe"))
    };
    let out = cmd
        .arg("--index")
        .arg(&idx)
        .arg("--models")
        .arg(models_dir())
        .args(["--json", "index"])
        .arg(&lib)
        .args(ARGS)
        .env("LOUPE_CONFIG", "/dev/null")
        .output()
        .unwrap();
    for p in [&locked, &locked_dir] {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let failed = failures(&r);
    let reason = |name: &str| failure_reason(&failed, name).to_lowercase();
    for name in [
        "caf\u{fffd}.png",
        "truncated.png",
        "truncated.mp4",
        "noise.mp4",
        "truncated.pdf",
        "garbage.pdf",
        "bomb.png",
        "text_as.mp4",
        "loop",
        "dangling.png",
        "locked.png",
        "private",
    ] {
        let why = reason(name);
        assert!(!why.is_empty(), "{name}: empty reason");
    }
    assert!(reason("bomb.png").contains("limit"), "{}", reason("bomb.png"));
    assert!(reason("loop").contains("loop"), "{}", reason("loop"));
    assert!(
        reason("locked.png").contains("permission"),
        "{}",
        reason("locked.png")
    );
    assert!(reason("private").contains("permission"), "{}", reason("private"));
    assert!(
        reason("caf\u{fffd}.png").contains("utf-8"),
        "{}",
        reason("caf\u{fffd}.png")
    );
    assert!(
        reason("truncated.mp4").contains("video"),
        "{}",
        reason("truncated.mp4")
    );
    assert!(
        reason("truncated.pdf").contains("pdf"),
        "{}",
        reason("truncated.pdf")
    );
    // The good files, and good content under a wrong name, are indexed.
    assert_eq!(r["indexed"], 5, "{r}");
    assert_eq!(failed.len(), 12, "{failed:#?}");
    let status = check(&idx);
    assert_eq!(status["files"], 5, "{status}");
    let pdf = loupe_json(&idx, &["search", "pdf behind a png name", "--limit", "1"]);
    assert_eq!(pdf["hits"][0]["asset"]["kind"], "document", "{pdf}");
    assert!(hit_paths(&pdf)[0].ends_with("pdf_as.png"), "{pdf}");
    let hits = loupe_json(&idx, &["search", "green", "--limit", "1", "--kind", "image"]);
    assert!(hit_paths(&hits)[0].ends_with("really_png.jpg"), "{hits}");
}
