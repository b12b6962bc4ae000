//! Tables for people, JSON for programs.

use anyhow::Result;
use loupe_schemas::{IndexReport, SearchResponse};

pub fn index_report(r: &IndexReport, model: &str, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(r)?);
        return Ok(());
    }
    println!(
        "indexed {}  linked {}  unchanged {}  removed {}  failed {}  ignored {}  ({} files seen, {:.1} s, {:.1} files/s, model {model})",
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
        let size = match (h.moment, h.asset.width, h.asset.height) {
            (Some(m), _, _) => format!("{:.1}-{:.1}s", m.start, m.end),
            (None, Some(w), Some(hh)) => format!("{w}x{hh}"),
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
    }
    println!(
        "{} results in {:.1} ms (model {})",
        resp.hits.len(),
        resp.took_ms,
        resp.visual_model
    );
    Ok(())
}
