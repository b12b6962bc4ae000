//! Documents: PDFs page by page. A page's words come from the PDF's own text layer when it has one
//! (exact, with boxes, no model), else from OCR of the rendered page; every page is also rendered
//! small for its CLIP vector and thumbnail. Pages are handled a few at a time and handed to the
//! caller one by one, so memory does not grow with the page count.
//!
//! Multi-page TIFFs (what fax and scanner software writes) are documents too: [`read_tiff`]
//! decodes them one page at a time. Photos and single scans stored as images go through
//! [`read_image`] (OCR only).

use image::RgbImage;
use loupe_media::{DecodeLimits, pdf};
use loupe_models::Ocr;
use loupe_schemas::{PageText, TextSource};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Long side of a page rendered for OCR (about 145 dpi for a letter page).
pub const OCR_RENDER: u32 = 1600;
/// Long side a scanned page (TIFF) is brought down to before OCR (the OCR model reads pages at
/// most this size anyway).
const OCR_MAX_SIDE: u32 = 2000;
/// Long side of a page rendered for its CLIP vector and thumbnail.
pub const SMALL_RENDER: u32 = 512;
/// Pages read from poppler per call.
const PAGES_PER_CALL: u32 = 8;
/// A text layer with fewer alphanumeric characters than this is treated as missing (a scan with a
/// stray label, a page number) and the page is read with OCR instead.
const MIN_LAYER_CHARS: usize = 16;

/// What the indexer gets per page.
pub struct Page {
    pub text: PageText,
    /// The page upright, long side [`SMALL_RENDER`].
    pub image: RgbImage,
}

/// Outcome of a document: its info, and pages that could not be read (page, reason).
pub struct Read {
    /// For a TIFF, `page_size` is in pixels and `created` is not read.
    pub info: pdf::PdfInfo,
    pub failed_pages: Vec<(u32, String)>,
}

/// Error text for an interrupted document (redone by the next run).
pub const INTERRUPTED: &str = "interrupted";

fn alnum_chars(s: &str) -> usize {
    s.chars().filter(|c| c.is_alphanumeric()).count()
}

fn shrink(img: &RgbImage, long_side: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    if w.max(h) <= long_side {
        return img.clone();
    }
    let r = long_side as f32 / w.max(h) as f32;
    let (nw, nh) = (((w as f32 * r) as u32).max(1), ((h as f32 * r) as u32).max(1));
    image::imageops::resize(img, nw, nh, image::imageops::FilterType::Triangle)
}

/// Turns an image clockwise by a multiple of 90 degrees.
pub fn turn(img: &RgbImage, degrees: u32) -> RgbImage {
    match degrees % 360 {
        90 => image::imageops::rotate90(img),
        180 => image::imageops::rotate180(img),
        270 => image::imageops::rotate270(img),
        _ => img.clone(),
    }
}

/// A page rendered by poppler; its failure is a per-page reason.
fn render(path: &Path, page: u32, long_side: u32) -> Result<RgbImage, String> {
    pdf::render(path, page, long_side).map_err(|e| e.to_string())
}

/// Reads a PDF page by page, calling `on_page` for each (in order). Per-page problems are
/// collected; a file that cannot be opened at all is an error.
pub fn read_pdf(
    path: &Path,
    ocr: Option<&Ocr>,
    cancel: &AtomicBool,
    on_page: &mut dyn FnMut(u32, Page) -> Result<(), String>,
) -> Result<Read, String> {
    let info = pdf::info(path)?;
    let mut failed_pages = Vec::new();
    let mut first = 1;
    while first <= info.pages {
        let last = (first + PAGES_PER_CALL - 1).min(info.pages);
        let layer = match pdf::text_layer(path, first, last) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("{}: no text layer for pages {first}-{last}: {e}", path.display());
                Vec::new()
            }
        };
        for page in first..=last {
            if cancel.load(Ordering::SeqCst) {
                return Err(INTERRUPTED.into());
            }
            let from_layer = layer
                .iter()
                .find(|p| p.page == page)
                .filter(|p| alnum_chars(&p.text) >= MIN_LAYER_CHARS);
            let result = match (from_layer, ocr) {
                (Some(text), _) => render(path, page, SMALL_RENDER).map(|image| Page {
                    text: text.clone(),
                    image,
                }),
                (None, Some(ocr)) => render(path, page, OCR_RENDER).and_then(|big| {
                    let size = layer
                        .iter()
                        .find(|p| p.page == page)
                        .map_or(info.page_size, |p| (p.width, p.height));
                    let read = ocr.read(&big).map_err(|e| e.to_string())?;
                    Ok(Page {
                        text: read.to_page_text(page, size),
                        image: shrink(&turn(&big, read.rotation), SMALL_RENDER),
                    })
                }),
                // No text layer and no OCR model: the page is still found by how it looks.
                (None, None) => render(path, page, SMALL_RENDER).map(|image| {
                    let (width, height) = layer
                        .iter()
                        .find(|p| p.page == page)
                        .map_or(info.page_size, |p| (p.width, p.height));
                    Page {
                        text: PageText {
                            page,
                            width,
                            height,
                            source: TextSource::TextLayer,
                            rotation: 0,
                            text: String::new(),
                            words: Vec::new(),
                        },
                        image,
                    }
                }),
            };
            match result {
                Ok(p) => on_page(info.pages, p)?,
                Err(e) => failed_pages.push((page, e)),
            }
        }
        first = last + 1;
    }
    Ok(Read { info, failed_pages })
}

/// OCR of an image (a photo of a document, a screenshot, a scan saved as an image), as page 1.
pub fn read_image(ocr: &Ocr, img: &RgbImage) -> Result<PageText, String> {
    let read = ocr.read(img).map_err(|e| e.to_string())?;
    Ok(read.to_page_text(1, (img.width() as f32, img.height() as f32)))
}

/// Reads a multi-page TIFF page by page, calling `on_page` for each. Pages are OCR'd (a TIFF has
/// no text layer); without an OCR model they are still found by how they look.
pub fn read_tiff(
    bytes: &[u8],
    limits: &DecodeLimits,
    ocr: Option<&Ocr>,
    cancel: &AtomicBool,
    on_page: &mut dyn FnMut(u32, Page) -> Result<(), String>,
) -> Result<Read, String> {
    let pages = loupe_media::tiff::page_count(bytes, limits)?;
    let mut d = loupe_media::tiff::Pages::open(bytes, limits)?;
    let mut failed_pages = Vec::new();
    let mut page_size = (0.0, 0.0);
    for page in 1..=pages {
        if cancel.load(Ordering::SeqCst) {
            return Err(INTERRUPTED.into());
        }
        if page > 1
            && let Err(e) = d.next_page()
        {
            for p in page..=pages {
                failed_pages.push((p, format!("page directory cannot be read: {e}")));
            }
            break;
        }
        let result = d.rgb().map_err(|e| e.to_string()).and_then(|img| {
            let size = (img.width() as f32, img.height() as f32);
            if page == 1 {
                page_size = size;
            }
            match ocr {
                Some(ocr) => {
                    let big = shrink(&img, OCR_MAX_SIDE);
                    let read = ocr.read(&big).map_err(|e| e.to_string())?;
                    Ok(Page {
                        text: read.to_page_text(page, size),
                        image: shrink(&turn(&big, read.rotation), SMALL_RENDER),
                    })
                }
                None => Ok(Page {
                    text: PageText {
                        page,
                        width: size.0,
                        height: size.1,
                        source: TextSource::Ocr,
                        rotation: 0,
                        text: String::new(),
                        words: Vec::new(),
                    },
                    image: shrink(&img, SMALL_RENDER),
                }),
            }
        });
        match result {
            Ok(p) => on_page(pages, p)?,
            Err(e) => failed_pages.push((page, e)),
        }
    }
    Ok(Read {
        info: pdf::PdfInfo {
            pages,
            page_size,
            created: None,
        },
        failed_pages,
    })
}
