//! The web page in a real browser: Debian's headless Chromium, driven by Playwright
//! (`tests/web/e2e.mjs`, playwright-core from npm, installed by scripts/setup), against a real
//! `loupe serve` over a real index of photos, a PDF and a video. Nothing is skipped: without
//! Chromium or Playwright the test fails and says how to install them.

mod common;

use common::*;
use image::ImageFormat;
use std::path::Path;
use std::process::Command;

#[test]
fn web_page_searches_opens_moments_and_pages() {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web");
    assert!(
        web.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed in {}: run scripts/setup",
        web.display()
    );
    assert!(
        Path::new("/usr/bin/chromium").is_file() || std::env::var_os("CHROMIUM").is_some(),
        "Chromium is not installed: run scripts/setup (Debian package chromium)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let (lib, index) = (tmp.path().join("lib"), tmp.path().join("index"));
    write(
        &lib.join("photos/red_apple.jpg"),
        &encode(&disc(320, 240, RED, WHITE), ImageFormat::Jpeg),
    );
    write(
        &lib.join("photos/blue_sky.png"),
        &encode(&solid(200, 120, BLUE), ImageFormat::Png),
    );
    write(
        &lib.join("photos/lime.png"),
        &encode(&disc(160, 160, GREEN, WHITE), ImageFormat::Png),
    );
    write(
        &lib.join("docs/invoice.pdf"),
        &simple_pdf(&["ACME Hardware Ltd", "Invoice 2231", "Invoice total 518 EUR"]),
    );
    // VP9 + Opus in WebM: what every Chromium build plays.
    make_video(
        &lib.join("videos/colours.webm"),
        &[
            "-c:v",
            "libvpx-vp9",
            "-deadline",
            "realtime",
            "-b:v",
            "200k",
            "-c:a",
            "libopus",
        ],
    );
    let example = tmp.path().join("example.png");
    write(&example, &encode(&solid(80, 80, BLUE), ImageFormat::Png));
    let report = loupe_json(
        &index,
        &["index", lib.to_str().unwrap(), "--model", "tiny-clip-colour"],
    );
    assert_eq!(report["failed"].as_array().unwrap().len(), 0, "{report}");

    let server = LoupeServer::start(&index, &[], &[]);
    // Screenshots land in the target folder for a person to look at.
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new("node")
        .arg(web.join("e2e.mjs"))
        .arg(&server.base)
        .arg(&example)
        .arg(&shots)
        .current_dir(&web)
        .output()
        .expect("running node (Node.js 20)");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "e2e.mjs failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("web page: all checks passed"), "{stdout}");
}
