//! PDFs through Debian's poppler-utils (`pdfinfo`, `pdftotext -bbox-layout`, `pdftoppm`), run as
//! subprocesses: a malformed or hostile PDF can crash or hang a parser, and a child process keeps
//! that away from the index (each call has a time limit and its output is bounded).
//!
//! Pages are read a few at a time, so a 2000-page PDF never sits in memory at once.

use image::RgbImage;
use loupe_schemas::{PageText, TextSource, WordBox};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What `pdfinfo` says about a PDF.
#[derive(Debug, Clone, PartialEq)]
pub struct PdfInfo {
    pub pages: u32,
    /// Size of the first page in PDF points.
    pub page_size: (f32, f32),
    /// `CreationDate`, as poppler prints it with `-isodates`.
    pub created: Option<String>,
}

/// Longest a poppler call may take before the file is given up on.
const CALL_LIMIT: Duration = Duration::from_secs(120);
/// Most bytes read from a poppler call's output.
const OUTPUT_LIMIT: u64 = 256 << 20;

/// Runs a poppler tool with a time limit; returns stdout, or the first line of stderr as the reason.
fn run(tool: &str, args: &[&str], path: &Path, after: &[&str]) -> Result<Vec<u8>, String> {
    let mut child = Command::new(tool)
        .args(args)
        .arg(path)
        .args(after)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {tool} (install Debian's poppler-utils): {e}"))?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    // Read both pipes on threads so a chatty child cannot block on a full pipe.
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stdout {
            let _ = s.take(OUTPUT_LIMIT).read_to_end(&mut buf);
        }
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stderr {
            let _ = s.take(1 << 20).read_to_end(&mut buf);
        }
        buf
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if started.elapsed() > CALL_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{tool} took longer than {} s", CALL_LIMIT.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("{tool}: {e}")),
        }
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    if !status.success() {
        let err = String::from_utf8_lossy(&err);
        let reason = err
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("Syntax Warning"))
            .unwrap_or("unreadable PDF");
        return Err(explain(reason));
    }
    Ok(out)
}

/// Turns poppler's wording into a reason a user can act on.
fn explain(reason: &str) -> String {
    if reason.contains("Incorrect password") {
        "encrypted PDF: it needs a password to open".to_string()
    } else if reason.contains("Couldn't find trailer") || reason.contains("Couldn't read xref") {
        format!("not a readable PDF (damaged or truncated): {reason}")
    } else {
        format!("not a readable PDF: {reason}")
    }
}

/// Page count, first page size and creation date.
pub fn info(path: &Path) -> Result<PdfInfo, String> {
    let out = run("pdfinfo", &["-isodates"], path, &[])?;
    let text = String::from_utf8_lossy(&out);
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
            .map(|v| v.trim().to_string())
    };
    if field("Encrypted").is_some_and(|v| v.starts_with("yes")) && field("Pages").is_none() {
        return Err("encrypted PDF: it needs a password to open".into());
    }
    let pages: u32 = field("Pages")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| "not a readable PDF: no page count".to_string())?;
    if pages == 0 {
        return Err("PDF has no pages".into());
    }
    // "Page size:       612 x 792 pts (letter)"
    let page_size = field("Page size")
        .and_then(|v| {
            let mut it = v.split_whitespace();
            let w: f32 = it.next()?.parse().ok()?;
            it.next()?;
            let h: f32 = it.next()?.parse().ok()?;
            Some((w, h))
        })
        .unwrap_or((612.0, 792.0));
    Ok(PdfInfo {
        pages,
        page_size,
        created: field("CreationDate").filter(|v| !v.is_empty()),
    })
}

/// The text layer of pages `first..=last` (1-based), words with boxes in reading order. Pages without
/// a text layer come back with no words.
pub fn text_layer(path: &Path, first: u32, last: u32) -> Result<Vec<PageText>, String> {
    let (f, l) = (first.to_string(), last.to_string());
    let out = run(
        "pdftotext",
        &["-bbox-layout", "-enc", "UTF-8", "-f", &f, "-l", &l],
        path,
        &["-"],
    )?;
    let xml = String::from_utf8_lossy(&out);
    parse_bbox_layout(&xml, first)
}

/// Parses `pdftotext -bbox-layout` output (XHTML: page > flow > block > line > word).
pub fn parse_bbox_layout(xml: &str, first: u32) -> Result<Vec<PageText>, String> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(xml, opts)
        .map_err(|e| format!("pdftotext printed something unexpected: {e}"))?;
    let num = |n: &roxmltree::Node<'_, '_>, a: &str| n.attribute(a).and_then(|v| v.parse::<f32>().ok());
    let mut pages = Vec::new();
    for (i, page) in doc
        .descendants()
        .filter(|n| n.tag_name().name() == "page")
        .enumerate()
    {
        let (w, h) = (
            num(&page, "width").unwrap_or(612.0).max(1.0),
            num(&page, "height").unwrap_or(792.0).max(1.0),
        );
        let mut words = Vec::new();
        let mut lines: Vec<String> = Vec::new();
        for line in page.descendants().filter(|n| n.tag_name().name() == "line") {
            let mut text: Vec<&str> = Vec::new();
            for word in line.children().filter(|n| n.tag_name().name() == "word") {
                let t = word.text().unwrap_or_default().trim();
                if t.is_empty() {
                    continue;
                }
                let b = [
                    num(&word, "xMin").unwrap_or(0.0) / w,
                    num(&word, "yMin").unwrap_or(0.0) / h,
                    num(&word, "xMax").unwrap_or(0.0) / w,
                    num(&word, "yMax").unwrap_or(0.0) / h,
                ]
                .map(|v| v.clamp(0.0, 1.0));
                words.push(WordBox {
                    text: t.to_string(),
                    bbox: b,
                    conf: 1.0,
                    line: lines.len() as u32,
                });
                text.push(t);
            }
            if !text.is_empty() {
                lines.push(text.join(" "));
            }
        }
        pages.push(PageText {
            page: first + i as u32,
            width: w,
            height: h,
            source: TextSource::TextLayer,
            rotation: 0,
            text: lines.join("\n"),
            words,
        });
    }
    Ok(pages)
}

/// Renders one page (1-based) so its longer side is `long_side` pixels.
pub fn render(path: &Path, page: u32, long_side: u32) -> Result<RgbImage, String> {
    let p = page.to_string();
    let s = long_side.to_string();
    let out = run(
        "pdftoppm",
        &["-f", &p, "-l", &p, "-scale-to", &s, "-png"],
        path,
        &[],
    )?;
    let img = image::load_from_memory_with_format(&out, image::ImageFormat::Png)
        .map_err(|e| format!("page {page} did not render: {e}"))?;
    Ok(img.to_rgb8())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_words_lines_and_pages() {
        let xml = r#"<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd"><html xmlns="http://www.w3.org/1999/xhtml">
<head><title></title></head><body><doc>
  <page width="600.000000" height="800.000000">
    <flow><block xMin="0" yMin="0" xMax="1" yMax="1">
      <line xMin="60" yMin="80" xMax="300" yMax="100">
        <word xMin="60.0" yMin="80.0" xMax="120.0" yMax="100.0">Total</word>
        <word xMin="130.0" yMin="80.0" xMax="200.0" yMax="100.0">$518.00</word>
      </line>
      <line xMin="60" yMin="120" xMax="300" yMax="140">
        <word xMin="60.0" yMin="120.0" xMax="120.0" yMax="140.0">Tom &amp; Jerry</word>
      </line>
    </block></flow>
  </page>
  <page width="600.000000" height="800.000000">
  </page>
</doc></body></html>"#;
        let pages = parse_bbox_layout(xml, 3).unwrap();
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[0].page, 3);
        assert_eq!(pages[0].text, "Total $518.00\nTom & Jerry");
        assert_eq!(pages[0].words[1].bbox, [130.0 / 600.0, 0.1, 200.0 / 600.0, 0.125]);
        assert_eq!(pages[0].words[2].line, 1);
        assert_eq!(pages[1].page, 4);
        assert!(pages[1].words.is_empty());
    }
}
