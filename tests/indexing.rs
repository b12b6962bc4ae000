//! End to end: incremental re-indexing, moves and copies, deletions, bad files, interrupted runs.

mod common;

use common::*;
use image::ImageFormat;
use std::path::Path;
use std::time::Duration;

fn index(index: &Path, lib: &Path) -> serde_json::Value {
    loupe_json(
        index,
        &["index", lib.to_str().unwrap(), "--model", "tiny-clip-colour"],
    )
}

fn status(index: &Path) -> (u64, u64, u64, u64) {
    let s = loupe_json(index, &["status"]);
    let n = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("{k} in {s}"));
    (n("files"), n("assets"), n("points"), n("text_docs"))
}

#[test]
fn reindex_is_incremental_and_follows_moves_copies_and_deletes() {
    let tmp = tempfile::tempdir().unwrap();
    let (lib, idx) = (tmp.path().join("lib"), tmp.path().join("index"));
    for (i, c) in [RED, GREEN, BLUE, YELLOW].iter().enumerate() {
        write(
            &lib.join(format!("a/p{i}.png")),
            &encode(&disc(64, 48, *c, WHITE), ImageFormat::Png),
        );
    }
    let first = index(&idx, &lib);
    assert_eq!(first["indexed"], 4);
    assert_eq!(status(&idx), (4, 4, 4, 4));

    // Nothing changed: nothing is re-embedded.
    let again = index(&idx, &lib);
    assert_eq!(
        (again["indexed"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(4)),
        "{again}"
    );

    // A copy is linked to the same asset, not embedded again.
    std::fs::copy(lib.join("a/p0.png"), lib.join("a/p0_copy.png")).unwrap();
    // A move keeps the asset and its vectors.
    std::fs::create_dir_all(lib.join("b")).unwrap();
    std::fs::rename(lib.join("a/p1.png"), lib.join("b/moved.png")).unwrap();
    // An edit makes new content.
    write(
        &lib.join("a/p2.png"),
        &encode(&disc(64, 48, BLACK, WHITE), ImageFormat::Png),
    );
    // A deletion removes the asset.
    std::fs::remove_file(lib.join("a/p3.png")).unwrap();
    let r = index(&idx, &lib);
    assert_eq!(r["indexed"], 1, "{r}");
    assert_eq!(r["linked"], 2, "{r}");
    assert_eq!(r["removed"], 2, "{r}"); // a/p1.png (moved away) and a/p3.png
    // 4 files: p0, p0_copy, moved, p2; 3 assets: red (2 paths), green, black.
    assert_eq!(status(&idx), (4, 3, 3, 3));

    let yellow = loupe_json(&idx, &["search", "yellow"]);
    assert!(
        hit_paths(&yellow).iter().all(|p| !p.ends_with("p3.png")),
        "deleted file still found"
    );
    let green = loupe_json(&idx, &["search", "green", "--limit", "1"]);
    assert!(hit_paths(&green)[0].ends_with("b/moved.png"), "{green}");
    // The moved photo is found under its new folder and no longer under the old one.
    let in_b = loupe_json(
        &idx,
        &[
            "search",
            "green",
            "--path-prefix",
            lib.join("b").to_str().unwrap(),
        ],
    );
    assert_eq!(hit_paths(&in_b).len(), 1);
    let red = loupe_json(&idx, &["search", "red", "--limit", "1"]);
    let paths = red["hits"][0]["asset"]["paths"].as_array().unwrap();
    assert_eq!(paths.len(), 2, "both copies are recorded: {red}");
    let black = loupe_json(&idx, &["search", "black", "--limit", "1"]);
    assert!(hit_paths(&black)[0].ends_with("a/p2.png"));
}

#[test]
fn bad_files_are_reported_and_the_rest_indexed() {
    let tmp = tempfile::tempdir().unwrap();
    let (lib, idx) = (tmp.path().join("lib"), tmp.path().join("index"));
    write(
        &lib.join("good.png"),
        &encode(&disc(64, 64, RED, WHITE), ImageFormat::Png),
    );
    write(
        &lib.join("good2.jpg"),
        &encode(&disc(64, 64, BLUE, WHITE), ImageFormat::Jpeg),
    );
    // PNG bytes behind a .jpg name: read by content.
    write(
        &lib.join("really_png.jpg"),
        &encode(&solid(32, 32, GREEN), ImageFormat::Png),
    );
    write(&lib.join("empty.png"), b"");
    write(&lib.join("garbage.jpg"), b"this is not a jpeg at all, just text");
    let png = encode(&disc(256, 256, RED, WHITE), ImageFormat::Png);
    write(&lib.join("truncated.png"), &png[..png.len() / 3]);
    // A PNG whose header claims 100000 x 100000 pixels.
    write(&lib.join("bomb.png"), &png_bomb(100_000, 100_000));
    // Within the side limit but 400 Mpx in all.
    write(&lib.join("bomb2.png"), &png_bomb(20_000, 20_000));
    write(&lib.join("notes.txt"), b"not media");
    std::os::unix::fs::symlink(&lib, lib.join("loop")).unwrap();

    let r = index(&idx, &lib);
    assert_eq!(r["indexed"], 3, "{r}");
    assert_eq!(r["ignored"], 1, "{r}");
    let failed = failures(&r);
    let reason = |name: &str| failure_reason(&failed, name);
    assert!(reason("empty.png").contains("empty"));
    assert!(reason("garbage.jpg").contains("not an image"));
    let truncated = reason("truncated.png");
    assert!(
        truncated.contains("corrupt") || truncated.contains("truncated"),
        "{truncated}"
    );
    assert!(reason("bomb.png").contains("limit"), "{}", reason("bomb.png"));
    assert!(reason("bomb2.png").contains("limit"), "{}", reason("bomb2.png"));
    assert!(reason("loop").contains("loop"), "{}", reason("loop"));
    assert_eq!(failed.len(), 6, "{failed:?}");

    // The human report names every failure too, and the run still succeeds.
    let out = loupe(&idx, &["index", lib.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("failed: ") && text.contains("bomb.png"), "{text}");
}

#[test]
fn killed_runs_resume_without_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib");
    let colours = [RED, GREEN, BLUE, YELLOW, WHITE, BLACK];
    for i in 0..90 {
        let mut img = disc(400, 300, colours[i % 6], colours[(i / 6) % 6]);
        // A mark that makes every file's content unique.
        for dx in 0..4 {
            img.put_pixel(4 * i as u32 + dx, 0, image::Rgb([i as u8, 255 - i as u8, 7]));
        }
        write(
            &lib.join(format!("d{}/img{i:03}.jpg", i % 3)),
            &encode(&img, ImageFormat::Jpeg),
        );
    }
    let clean = tmp.path().join("clean");
    index(&clean, &lib);
    let expected = status(&clean);
    assert_eq!(expected, (90, 90, 90, 90));

    let killed = tmp.path().join("killed");
    let models = models_dir();
    let spawn = |batch: &str, stdout: std::process::Stdio| {
        std::process::Command::new(env!("CARGO_BIN_EXE_loupe"))
            .args([
                "--index",
                killed.to_str().unwrap(),
                "--models",
                models.to_str().unwrap(),
                "--json",
            ])
            .args([
                "index",
                lib.to_str().unwrap(),
                "--model",
                "tiny-clip-colour",
                "--batch",
                batch,
            ])
            .stdout(stdout)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    for delay_ms in [150u64, 400, 900] {
        let mut child = spawn("4", std::process::Stdio::null());
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL: no chance to clean up
        child.wait().unwrap();
    }
    // Ctrl-C (SIGINT) finishes the current batch and exits 130 with an "interrupted" report.
    let child = spawn("2", std::process::Stdio::piped());
    std::thread::sleep(Duration::from_millis(700));
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    if out.status.code() == Some(130) {
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["interrupted"], true, "{report}");
    } else {
        // It finished before the signal came: that is fine too, but it must have succeeded.
        assert!(out.status.success(), "{:?}", out.status);
    }

    let r = index(&killed, &lib);
    assert_eq!(r["failed"].as_array().unwrap().len(), 0, "{r}");
    assert_eq!(
        status(&killed),
        expected,
        "resumed index differs from a clean one: {r}"
    );
    // And the resumed index answers like the clean one.
    // (Equal scores may come in another order, so compare the scored sets.)
    let scored = |idx: &Path| {
        let r = loupe_json(idx, &["search", "yellow", "--limit", "100"]);
        let mut v: Vec<(String, i64)> = r["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                let visual = h["signals"][0]["score"].as_f64().unwrap();
                (
                    h["asset"]["path"].as_str().unwrap().to_string(),
                    (visual * 1e4).round() as i64,
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(scored(&clean), scored(&killed));
}

#[test]
fn a_second_writer_is_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let (lib, idx) = (tmp.path().join("lib"), tmp.path().join("index"));
    write(&lib.join("x.png"), &encode(&solid(8, 8, RED), ImageFormat::Png));
    index(&idx, &lib);
    // Hold the writer lock the way a running `loupe index` does.
    let lock = std::fs::File::options()
        .read(true)
        .write(true)
        .open(idx.join("lock"))
        .unwrap();
    lock.lock().unwrap();
    let out = loupe(&idx, &["--json", "index", lib.to_str().unwrap()]);
    assert!(!out.status.success());
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["code"], "index_busy", "{body}");
    drop(lock);
}
