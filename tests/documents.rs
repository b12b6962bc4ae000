//! End to end: documents and text in images. Fixtures come from `fixtures/make_docs.py` (PDFs with
//! a text layer, scanned PDFs, sideways and upside-down scans with noise, a terminal screenshot,
//! encrypted/truncated/fake PDFs, a multi-page fax TIFF) and two real scans from PyPI sdists
//! (`fixtures/scans/`), read with the real PP-OCR models `scripts/setup` installs from
//! PyPI (`rapidocr==3.10.0`). Nothing is skipped: without the OCR models the tests fail and say how
//! to install them.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn cache_dir() -> PathBuf {
    std::env::var_os("LOUPE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/loupe"))
}

fn python() -> PathBuf {
    let venv = cache_dir().join("venv/bin/python");
    assert!(
        venv.is_file(),
        "{} is missing: run scripts/setup (it makes the venv with Pillow and pypdf)",
        venv.display()
    );
    venv
}

fn ocr_installed() {
    assert!(
        models_dir().join("ppocr-v6-small/loupe-model.json").is_file(),
        "the OCR models are not installed in {}: run scripts/setup (PyPI rapidocr==3.10.0)",
        models_dir().display()
    );
}

/// Makes the document fixtures in `dir`; returns the truth (file -> page texts).
fn fixtures(dir: &Path, long_pages: u32) -> serde_json::Value {
    let out = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/make_docs.py"))
        .arg(dir)
        .args(["--long-pages", &long_pages.to_string()])
        .output()
        .expect("running fixtures/make_docs.py");
    assert!(
        out.status.success(),
        "make_docs.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).unwrap()).unwrap()
}

/// Character error rate (whitespace runs collapsed), from the crate `loupe eval` uses.
fn cer(reference: &str, hypothesis: &str) -> f64 {
    let (errors, chars) = loupe_metrics::speech::cer(reference, hypothesis, false);
    errors as f64 / chars.max(1) as f64
}

#[test]
fn ocr_reads_scans_screenshots_and_turned_pages() {
    ocr_installed();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("docs");
    let truth = fixtures(&dir, 0);
    let index = tmp.path().join("index");
    let mut table = Vec::new();
    // (file, CER bound, expected rotation, expected source)
    let cases = [
        ("invoice_2024_117.pdf", 0.0, 0, "text_layer"),
        ("scanned_letter.pdf", 0.03, 0, "ocr"),
        ("sideways_scan.pdf", 0.05, 90, "ocr"),
        ("upside_down_scan.png", 0.05, 180, "ocr"),
        ("screenshot_terminal.png", 0.08, 0, "ocr"),
        ("fax_delivery.tif", 0.03, 0, "ocr"),
    ];
    for (file, bound, rotation, source) in cases {
        let path = dir.join(file);
        let out = loupe_json(&index, &["ocr", path.to_str().unwrap()]);
        let pages = out["pages"].as_array().expect("pages");
        let want = truth[file].as_array().unwrap();
        assert_eq!(pages.len(), want.len(), "{file}: page count");
        for (p, w) in pages.iter().zip(want) {
            let got = p["text"].as_str().unwrap();
            let e = cer(w.as_str().unwrap(), got);
            table.push(format!(
                "{file:<26} page {}  CER {:>5.2}%  {} words",
                p["page"],
                e * 100.0,
                p["words"].as_array().unwrap().len()
            ));
            assert!(
                e <= bound,
                "{file} page {}: CER {e:.3} over {bound}\nread: {got}\ntruth: {w}",
                p["page"]
            );
            assert_eq!(p["source"], source, "{file}");
            let r = p["rotation"].as_u64().unwrap_or(0);
            // A sideways page may be turned either way round by a quarter; both read upright.
            let ok = if rotation == 90 {
                r == 90 || r == 270
            } else {
                r == rotation
            };
            assert!(ok, "{file}: turned {r}, expected {rotation}");
            // Every word has a box inside the page.
            for wb in p["words"].as_array().unwrap() {
                let b: Vec<f64> = wb["bbox"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect();
                assert!(
                    b[0] <= b[2] && b[1] <= b[3] && b.iter().all(|v| (0.0..=1.0).contains(v)),
                    "{wb}"
                );
            }
        }
    }
    eprintln!(
        "character error rates (PP-OCRv6 small; the text-layer PDF needs no OCR):\n{}",
        table.join("\n")
    );
}

fn hits(resp: &serde_json::Value) -> &Vec<serde_json::Value> {
    resp["hits"].as_array().expect("hits")
}

#[test]
fn search_finds_the_page_and_points_at_the_words() {
    ocr_installed();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("docs");
    fixtures(&dir, 40);
    let index = tmp.path().join("index");
    let report = loupe_json(&index, &["index", dir.to_str().unwrap(), "--quiet"]);
    let failed = failures(&report);
    let reason = |name: &str| failure_reason(&failed, name);
    assert!(reason("encrypted.pdf").contains("encrypted"), "{failed:?}");
    assert!(
        reason("truncated.pdf").contains("not a readable PDF"),
        "{failed:?}"
    );
    assert!(
        reason("not_really.pdf").contains("not a readable PDF"),
        "{failed:?}"
    );
    assert_eq!(failed.len(), 3, "{failed:?}");
    // invoice, letter, sideways, blank, long manual, upside-down png, screenshot png, the fax
    // TIFF, and the cut-off TIFF (its first page; the lost one is a warning).
    assert_eq!(report["indexed"], 9, "{report}");
    let warnings = report["warnings"].as_array().unwrap();
    let cut = warnings
        .iter()
        .find(|w| file_name(w["path"].as_str().unwrap()) == "cut_off.tif")
        .unwrap_or_else(|| panic!("no warning for cut_off.tif: {report}"));
    assert!(cut["reason"].as_str().unwrap().contains("1 of 2 pages"), "{cut}");

    let search = |q: &str| loupe_json(&index, &["search", q, "--limit", "5"]);

    // A text-layer invoice: the page, the snippet, and the box of the amount.
    let r = search("invoice total 518");
    let top = &hits(&r)[0];
    assert_eq!(
        file_name(top["asset"]["path"].as_str().unwrap()),
        "invoice_2024_117.pdf",
        "{r}"
    );
    assert_eq!(top["segment"]["locator"]["page"], 1, "{top}");
    assert!(top["deep_link"].as_str().unwrap().ends_with("#page=1"), "{top}");
    assert!(
        !top["snippet"]["highlights"].as_array().unwrap().is_empty(),
        "{top}"
    );
    let boxes = top["boxes"].as_array().unwrap();
    let amount = boxes
        .iter()
        .find(|b| b["text"] == "518.00")
        .unwrap_or_else(|| panic!("no box for 518.00: {top}"));
    let x0 = amount["bbox"][0].as_f64().unwrap();
    assert!(
        (x0 - 400.0 / 612.0).abs() < 0.01,
        "518.00 should start at x=400pt: {amount}"
    );

    // Scanned pages (OCR): the right page of the right file, with boxes.
    for (q, file, page) in [
        ("parcel number 4711", "scanned_letter.pdf", 1),
        ("budget meeting Thursday afternoon", "scanned_letter.pdf", 2),
        ("ferry timetable", "sideways_scan.pdf", 1),
        ("tomato seedlings", "upside_down_scan.png", 0),
        ("connection refused", "screenshot_terminal.png", 0),
        ("item0027", "long_manual.pdf", 27),
        ("shipment 8842 crates damaged", "fax_delivery.tif", 2),
    ] {
        let r = search(q);
        let top = &hits(&r)[0];
        assert_eq!(
            file_name(top["asset"]["path"].as_str().unwrap()),
            file,
            "{q}: {r}"
        );
        if page > 0 {
            assert_eq!(top["segment"]["locator"]["page"], page, "{q}: {top}");
        }
        assert!(
            !top["boxes"].as_array().unwrap().is_empty(),
            "{q}: no boxes: {top}"
        );
        assert!(
            top["signals"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["signal"] == "lexical"),
            "{q}: {top}"
        );
    }

    // The long manual has a segment per page.
    let status = loupe_json(&index, &["status"]);
    // manual 40, invoice 2, letter 2, sideways 1, blank 1, the two images 2, fax 2, cut-off fax 1.
    let pages = 40 + 2 + 2 + 1 + 1 + 2 + 2 + 1;
    assert!(status["text_docs"].as_u64().unwrap() >= pages, "{status}");

    // Nothing changed: nothing is read again.
    let again = loupe_json(&index, &["index", dir.to_str().unwrap(), "--quiet"]);
    assert_eq!(again["indexed"], 0, "{again}");
    assert_eq!(again["unchanged"], 9, "{again}");
}

/// Real scans, fetched by `scripts/setup` from PyPI sdists (see `fixtures/scans/README.md`), read
/// against their transcriptions.
#[test]
fn real_scans_read_against_their_transcriptions() {
    ocr_installed();
    let scans = cache_dir().join("scans");
    let tmp = tempfile::tempdir().unwrap();
    let index = tmp.path().join("index");
    let gt = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scans");
    let mut table = Vec::new();
    // (file, transcription, CER bound). RapidOCR itself (Python, same models) measures 0.49% and
    // 3.43% on these two; the bounds leave room for preprocessing differences, not for regressions
    // that matter.
    for (file, truth, bound) in [
        ("eurotext.png", "eurotext.gt.txt", 0.02),
        ("huckfinn_c03-29.pdf", "huckfinn_c03-29.gt.txt", 0.06),
    ] {
        let path = scans.join(file);
        assert!(
            path.is_file(),
            "{} is missing: run scripts/setup (it fetches it from PyPI)",
            path.display()
        );
        let out = loupe_json(&index, &["ocr", path.to_str().unwrap()]);
        let got: Vec<&str> = out["pages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["text"].as_str().unwrap())
            .collect();
        let want = std::fs::read_to_string(gt.join(truth)).unwrap();
        let e = cer(&want, &got.join("\n"));
        table.push(format!(
            "{file:<22} CER {:>5.2}%  ({:.1} s)",
            e * 100.0,
            out["elapsed_s"].as_f64().unwrap()
        ));
        assert!(
            e <= bound,
            "{file}: CER {e:.4} over {bound}\nread: {}",
            got.join("\n")
        );
    }
    eprintln!("real scans (PP-OCRv6 small):\n{}", table.join("\n"));
}
