//! loupe-media: the one place Loupe probes, decodes and renders media.
//!
//! - [`images`]: one image decoded safely (format from the bytes, size limits checked before any
//!   pixel is allocated, decoder panics caught, EXIF orientation and capture date), thumbnails, and
//!   the one JPEG encoder; [`tiff`]: multi-page TIFFs read page by page.
//! - [`kind`]: what kind of media a path holds (by extension, and by its first bytes when the name lies).
//! - [`video`]: `ffprobe` (duration, display size, streams, creation time), frames at a given rate and
//!   size as raw RGB, and one frame at a time; [`audio`]: a file's sound as 16 kHz mono f32 samples.
//! - [`pdf`]: page count, text with word boxes (`pdftotext -bbox-layout`) and page renders (poppler).
//!
//! Every external run (ffmpeg, ffprobe, pdfinfo, pdftotext, pdftoppm) has a time limit and a bounded
//! output, and a run that is killed or runs out of time is a typed [`Error`]. ffmpeg runs go through
//! `ffmpeg-sidecar`, so its progress, errors and frames arrive as typed events instead of parsed
//! stderr; the binaries are the system's (Debian's `ffmpeg` and `poppler-utils`), never downloaded.
//!
//! Not for: deciding what a picture, a shot or a sentence means (shot detection, voice activity,
//! OCR and embeddings live in the indexer and the models), and no knowledge of the Index.

pub mod audio;
mod ffmpeg;
pub mod images;
pub mod kind;
pub mod pdf;
mod run;
pub mod tiff;
pub mod video;

pub use ffmpeg::TimeLimit;
pub use images::{DecodeLimits, DecodedImage, decode_image, encode_jpeg, save_jpeg, thumbnail};
pub use kind::{is_pdf, is_tiff, kind_of, sniff_kind};

use std::time::Duration;

/// Why a file could not be probed, decoded or rendered. The messages are written for the per-file
/// report a user reads.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read: {0}")]
    Read(std::io::Error),
    #[error("not an image format Loupe reads (unrecognised content)")]
    Unrecognised,
    #[error("image is {width}x{height}, over the {limit} pixel limit (possible decompression bomb)")]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    #[error("image has no pixels ({width}x{height})")]
    NoPixels { width: u32, height: u32 },
    #[error("image exceeds the size limits (possible decompression bomb): {0}")]
    Limits(String),
    #[error("unsupported image: {0}")]
    Unsupported(String),
    #[error("corrupt or truncated image: {0}")]
    Corrupt(String),
    #[error("the image decoder crashed on this file")]
    DecoderCrashed,
    #[error("{0}")]
    Image(String),
    #[error("cannot encode the JPEG: {0}")]
    Encode(String),
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("not a readable TIFF: {0}")]
    Tiff(String),
    #[error("page is {width}x{height} pixels, over the limits")]
    PageTooLarge { width: u32, height: u32 },
    /// A TIFF page that could not be decoded (short data, an unsupported colour type).
    #[error("{0}")]
    BadPage(String),
    /// The tool is not installed (or cannot be started).
    #[error("cannot run {tool} (install Debian's {package}): {source}")]
    Missing {
        tool: &'static str,
        package: &'static str,
        source: std::io::Error,
    },
    #[error("{tool} took longer than {} s", limit.as_secs())]
    TimedOut { tool: &'static str, limit: Duration },
    #[error("{tool} printed more than {limit} bytes")]
    TooMuchOutput { tool: &'static str, limit: u64 },
    #[error("{tool} was killed ({how})")]
    Killed { tool: &'static str, how: String },
    #[error("{tool} printed something unexpected: {reason}")]
    BadOutput { tool: &'static str, reason: String },
    #[error("{tool}: {reason}")]
    Io { tool: &'static str, reason: String },
    /// A PDF poppler cannot open (encrypted, damaged, not a PDF): the reason says which.
    #[error("{0}")]
    Pdf(String),
    #[error("PDF has no pages")]
    NoPages,
    #[error("page {page} did not render: {reason}")]
    Render { page: u32, reason: String },
    #[error("not a readable video or audio file: {0}")]
    NotMedia(String),
    #[error("no video or audio stream")]
    NoStreams,
    #[error("no video frames decoded: {0}")]
    NoFrames(String),
    #[error("ffmpeg could not decode the sound: {0}")]
    NoSound(String),
    #[error("ffmpeg could not read a frame at {t:.3} s: {reason}")]
    NoFrameAt { t: f64, reason: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Per-file reasons are text in the index report.
impl From<Error> for String {
    fn from(e: Error) -> Self {
        e.to_string()
    }
}
