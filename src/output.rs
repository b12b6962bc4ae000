//! Tables for people, JSON for programs.

use anyhow::Result;
use loupe_schemas::{IndexReport, Locator, PageText, SearchResponse, Snippet, TextSource, Transcript};

pub fn index_report(r: &IndexReport, model: &str, speech: &str, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(r)?);
        return Ok(());
    }
    println!(
        "indexed {}  linked {}  unchanged {}  removed {}  failed {}  ignored {}  ({} files seen, {:.1} s, {:.1} files/s, model {model}, speech {speech})",
        r.indexed,
        r.linked,
        r.unchanged,
        r.removed,
        r.failed.len(),
        r.ignored,
        r.seen,
        r.elapsed_s,
        r.files_per_s
    );
    for f in &r.failed {
        println!("  failed: {}: {}", f.path, f.reason);
    }
    for f in &r.warnings {
        println!("  warning: {}: {}", f.path, f.reason);
    }
    if r.interrupted {
        println!("interrupted: run the same command again to finish (nothing is indexed twice)");
    }
    Ok(())
}

pub fn search_response(resp: &SearchResponse, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(resp)?);
        return Ok(());
    }
    if resp.hits.is_empty() {
        println!("no results ({:.1} ms)", resp.took_ms);
        return Ok(());
    }
    println!(
        "{:>3}  {:>7}  {:<22}  {:<11}  path",
        "#", "score", "signals (rank:score)", "size/time"
    );
    for (i, h) in resp.hits.iter().enumerate() {
        let signals: Vec<String> = h
            .signals
            .iter()
            .map(|s| format!("{}#{}:{:.3}", &s.signal.as_str()[..3], s.rank, s.score))
            .collect();
        let size = match (h.moment, &h.segment.locator, h.asset.width, h.asset.height) {
            (Some(m), _, _, _) => format!("{:.1}-{:.1}s", m.start, m.end),
            (None, Locator::Page { page, .. }, _, _) => format!("page {page}"),
            (None, _, Some(w), Some(hh)) => format!("{w}x{hh}"),
            _ => String::new(),
        };
        println!(
            "{:>3}  {:>7.4}  {:<22}  {:<11}  {}",
            i + 1,
            h.score,
            signals.join(" "),
            size,
            h.deep_link
        );
        if let Some(sn) = &h.snippet {
            println!("{:>36}\"{}\"", "", marked(sn));
        }
        if !h.boxes.is_empty() {
            let b: Vec<String> = h
                .boxes
                .iter()
                .take(6)
                .map(|b| {
                    format!(
                        "{}@({:.2},{:.2})-({:.2},{:.2})",
                        b.text, b.bbox[0], b.bbox[1], b.bbox[2], b.bbox[3]
                    )
                })
                .collect();
            println!("{:>36}at {}", "", b.join(" "));
        }
    }
    println!(
        "{} results in {:.1} ms (model {})",
        resp.hits.len(),
        resp.took_ms,
        resp.visual_model
    );
    Ok(())
}

/// A snippet with its matched words in [brackets].
fn marked(s: &Snippet) -> String {
    let mut out = String::with_capacity(s.text.len() + 8);
    let mut at = 0;
    for [a, b] in &s.highlights {
        let (Some(before), Some(word)) = (s.text.get(at..*a), s.text.get(*a..*b)) else {
            continue;
        };
        out.push_str(before);
        out.push('[');
        out.push_str(word);
        out.push(']');
        at = *b;
    }
    out.push_str(s.text.get(at..).unwrap_or_default());
    out.replace('\n', " ")
}

fn clock(t: f64) -> String {
    let ms = (t.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

pub fn transcript(t: &Transcript, wall_s: f64, words: bool, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(t)?);
        return Ok(());
    }
    for s in &t.segments {
        println!("[{} --> {}]  {}", clock(s.start), clock(s.end), s.text);
        if words {
            let w: Vec<String> = s
                .words
                .iter()
                .map(|w| format!("{}@{:.2}", w.text, w.start))
                .collect();
            println!("{:>32}{}", "", w.join(" "));
        }
    }
    println!(
        "language {}  {} segments  audio {:.1} s  speech {:.1} s  took {:.1} s (RTF {:.2})  model {}",
        if t.language.is_empty() { "-" } else { &t.language },
        t.segments.len(),
        t.duration_s,
        t.speech_s,
        wall_s,
        if t.duration_s > 0.0 {
            wall_s / t.duration_s
        } else {
            0.0
        },
        t.model
    );
    Ok(())
}

/// Pages read by `loupe ocr`.
pub fn pages(pages: &[PageText], model: &str, wall_s: f64, json: bool) -> Result<()> {
    if json {
        let doc = serde_json::json!({ "model": model, "elapsed_s": wall_s, "pages": pages });
        println!("{doc}");
        return Ok(());
    }
    for p in pages {
        let source = match p.source {
            TextSource::TextLayer => "text layer",
            TextSource::Ocr => "OCR",
        };
        let turned = if p.rotation == 0 {
            String::new()
        } else {
            format!(", turned {} degrees", p.rotation)
        };
        println!("--- page {} ({source}{turned}, {} words)", p.page, p.words.len());
        println!("{}", p.text);
    }
    println!("{} pages in {:.2} s (OCR model {model})", pages.len(), wall_s);
    Ok(())
}
