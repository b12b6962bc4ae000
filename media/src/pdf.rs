//! PDFs through Debian's poppler-utils (`pdfinfo`, `pdftotext -bbox-layout`, `pdftoppm`), run as
//! subprocesses: a malformed or hostile PDF can crash or hang a parser, and a child process keeps
//! that away from the index (each call has a time limit and its output is bounded).
//!
//! Pages are read a few at a time, so a 2000-page PDF never sits in memory at once.

use crate::run::{self, Bounds};
use crate::{Error, Result};
use image::RgbImage;
use loupe_schemas::{PageText, TextSource, WordBox};
use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

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

/// Runs a poppler tool with a time limit and a bounded output; returns stdout, or the first line
/// of stderr as the reason.
fn poppler(tool: &'static str, args: &[&str], path: &Path, after: &[&str]) -> Result<Vec<u8>> {
    let mut all: Vec<OsString> = args.iter().map(OsString::from).collect();
    all.push(path.as_os_str().to_owned());
    all.extend(after.iter().map(OsString::from));
    let bounds = Bounds {
        time: CALL_LIMIT,
        output_bytes: OUTPUT_LIMIT,
    };
    let out = run::run(tool, "poppler-utils", &all, bounds)?;
    if !out.status.success() {
        let reason = run::first_line(&out.stderr, |l| l.starts_with("Syntax Warning"));
        return Err(explain(reason.as_deref().unwrap_or("unreadable PDF")));
    }
    Ok(out.stdout)
}

/// Turns poppler's wording into a reason a user can act on.
fn explain(reason: &str) -> Error {
    Error::Pdf(if reason.contains("Incorrect password") {
        ENCRYPTED.to_string()
    } else if reason.contains("Couldn't find trailer") || reason.contains("Couldn't read xref") {
        format!("not a readable PDF (damaged or truncated): {reason}")
    } else {
        format!("not a readable PDF: {reason}")
    })
}

const ENCRYPTED: &str = "encrypted PDF: it needs a password to open";

/// Page count, first page size and creation date.
pub fn info(path: &Path) -> Result<PdfInfo> {
    let out = poppler("pdfinfo", &["-isodates"], path, &[])?;
    let text = String::from_utf8_lossy(&out);
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
            .map(|v| v.trim().to_string())
    };
    if field("Encrypted").is_some_and(|v| v.starts_with("yes")) && field("Pages").is_none() {
        return Err(Error::Pdf(ENCRYPTED.into()));
    }
    let pages: u32 = field("Pages")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Error::Pdf("not a readable PDF: no page count".into()))?;
    if pages == 0 {
        return Err(Error::NoPages);
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
pub fn text_layer(path: &Path, first: u32, last: u32) -> Result<Vec<PageText>> {
    let (f, l) = (first.to_string(), last.to_string());
    let out = poppler(
        "pdftotext",
        &["-bbox-layout", "-enc", "UTF-8", "-f", &f, "-l", &l],
        path,
        &["-"],
    )?;
    let xml = String::from_utf8_lossy(&out);
    parse_bbox_layout(&xml, first)
}

/// Parses `pdftotext -bbox-layout` output (XHTML: page > flow > block > line > word).
pub fn parse_bbox_layout(xml: &str, first: u32) -> Result<Vec<PageText>> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(xml, opts).map_err(|e| Error::BadOutput {
        tool: "pdftotext",
        reason: e.to_string(),
    })?;
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
pub fn render(path: &Path, page: u32, long_side: u32) -> Result<RgbImage> {
    let p = page.to_string();
    let s = long_side.to_string();
    let out = poppler(
        "pdftoppm",
        &["-f", &p, "-l", &p, "-scale-to", &s, "-png"],
        path,
        &[],
    )?;
    let img =
        image::load_from_memory_with_format(&out, image::ImageFormat::Png).map_err(|e| Error::Render {
            page,
            reason: e.to_string(),
        })?;
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

    /// A one-page PDF (300 x 200 points) with one line of text, objects and xref written by hand.
    fn tiny_pdf(text: &str) -> Vec<u8> {
        let stream = format!("BT /F1 24 Tf 20 100 Td ({text}) Tj ET");
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R \
             /Resources << /Font << /F1 5 0 R >> >> >>"
                .to_string(),
            format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
        ];
        let mut out = b"%PDF-1.4\n".to_vec();
        let mut offsets = Vec::new();
        for (i, o) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
        }
        let xref = out.len();
        out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
        for o in offsets {
            out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .as_bytes(),
        );
        out
    }

    #[test]
    fn info_text_and_render_through_poppler() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tiny.pdf");
        std::fs::write(&file, tiny_pdf("Hello Loupe")).unwrap();
        let i = info(&file).unwrap();
        assert_eq!((i.pages, i.page_size), (1, (300.0, 200.0)));
        let pages = text_layer(&file, 1, 1).unwrap();
        assert_eq!(pages.len(), 1);
        assert_eq!(pages[0].text, "Hello Loupe");
        assert_eq!(pages[0].words.len(), 2);
        let img = render(&file, 1, 150).unwrap();
        assert_eq!(img.width().max(img.height()), 150);
        // Not a PDF at all, and a missing page.
        let junk = dir.path().join("junk.pdf");
        std::fs::write(&junk, b"plain text").unwrap();
        assert!(
            info(&junk)
                .unwrap_err()
                .to_string()
                .starts_with("not a readable PDF")
        );
        assert!(render(&file, 7, 150).is_err());
    }
}
