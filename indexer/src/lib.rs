//! loupe-indexer: turns a folder of media into Index entries.
//!
//! The walk -> probe -> extract -> embed -> write pipeline:
//! 1. walk the folder (symlinks followed, loops reported);
//! 2. for each file, compare size and mtime with the catalog: unchanged files cost one `stat`;
//! 3. changed or new files are read once, hashed (BLAKE3 = asset id) and, if the content is already
//!    indexed (a copy or a move), linked without re-embedding;
//! 4. new content is decoded (EXIF orientation applied, capture date read, decompression bombs refused)
//!    and preprocessed in parallel (rayon), then embedded in batches;
//! 5. each batch is written with [`loupe_store::Index::apply`], which commits the catalog last, so an
//!    interrupted run resumes where it stopped and never duplicates;
//! 6. paths under the root that are gone are removed.
//!
//! Videos and recordings also go through [`video`] (shots and keyframes) and [`audio`] (voice
//! activity, Whisper transcript with word times); transcript segments are written as `Span`
//! segments with their text (BM25) and a sentence-embedder vector (the text space).
//!
//! PDFs go through [`document`]: one `Page` segment per page with a CLIP vector, a thumbnail, its
//! words with boxes (text layer, else OCR) in BM25 and the text space. Photos with text in them
//! (signs, screenshots, slides) get the same OCR on their one segment.
//!
//! A bad file never stops a run: it is reported in [`IndexReport::failed`] with a reason; a file
//! that is indexed with something missing (a video whose sound cannot be decoded) is reported in
//! [`IndexReport::warnings`].
//!
//! Not for: search, or deciding which model to use (the caller passes loaded [`Models`]).

pub mod audio;
pub mod document;
pub mod pdf;
pub mod video;

pub use loupe_models::media::{DecodeLimits, DecodedImage, decode_image};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use loupe_models::whisper::Decode;
use loupe_models::{ClipModel, Ocr, TextEmbedder, Whisper};
use loupe_schemas::{
    Asset, AssetId, AssetKind, FileFailure, IndexReport, Locator, Segment, WordBox, WordTime,
};
use loupe_store::{AssetRecord, FileEntry, Index, Op, SegmentWrite, Space};
use rayon::prelude::*;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Instant, UNIX_EPOCH};

/// Everything that stops a whole run (single bad files never do).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} does not exist or cannot be read: {1}")]
    Root(PathBuf, std::io::Error),
    #[error(transparent)]
    Store(#[from] loupe_store::Error),
    #[error(transparent)]
    Model(#[from] loupe_models::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The models a run uses.
#[derive(Clone, Copy)]
pub struct Models<'a> {
    pub clip: &'a ClipModel,
    /// Sentence embedder for transcript text; without it transcripts are searchable by BM25 only.
    pub text: Option<&'a TextEmbedder>,
    /// Speech recogniser; without it videos and recordings get no transcript.
    pub whisper: Option<&'a Whisper>,
    /// Text reader; without it scanned pages and photos get no text (PDF text layers still do).
    pub ocr: Option<&'a Ocr>,
    pub decode: &'a Decode,
}

/// Knobs of a run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Images per ONNX run.
    pub batch_size: usize,
    pub limits: DecodeLimits,
    /// Draw a progress bar on stderr (hidden anyway when stderr is not a terminal).
    pub progress: bool,
    /// Look for text in photos (a quick detection first; full OCR only where text is found).
    pub photo_ocr: bool,
    /// Counters another thread can read while the run goes on (the server's index jobs).
    pub observer: Option<Arc<Progress>>,
}

/// How far a run has got, readable from another thread.
#[derive(Debug, Default)]
pub struct Progress {
    /// Files found by the walk so far.
    pub seen: AtomicU64,
    /// Files to embed; set when the walk is over (until then `u64::MAX`).
    pub total: AtomicU64,
    /// Files embedded and written (or failed) so far.
    pub done: AtomicU64,
}

impl Progress {
    pub fn new() -> Self {
        Self {
            total: AtomicU64::new(u64::MAX),
            ..Self::default()
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            batch_size: 16,
            limits: DecodeLimits::default(),
            progress: true,
            photo_ocr: true,
            observer: None,
        }
    }
}

/// File extensions read as images.
const IMAGE_EXTS: &[&str] = &["jpg", "jpeg", "jpe", "png", "webp", "gif", "tif", "tiff", "bmp"];
/// File extensions read as videos (through ffmpeg).
const VIDEO_EXTS: &[&str] = &[
    "mp4", "m4v", "mov", "mkv", "webm", "avi", "mpg", "mpeg", "wmv", "flv", "3gp", "ts", "mts",
];
/// File extensions read as sound recordings (through ffmpeg).
const AUDIO_EXTS: &[&str] = &["mp3", "wav", "flac", "m4a", "ogg", "oga", "opus", "aac", "wma"];
/// File extensions read as documents (through poppler).
const DOCUMENT_EXTS: &[&str] = &["pdf"];

/// The kind of media a path names, by extension; `None` for files Loupe does not read.
pub fn kind_of(path: &Path) -> Option<AssetKind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    let ext = ext.as_str();
    if IMAGE_EXTS.contains(&ext) {
        Some(AssetKind::Image)
    } else if VIDEO_EXTS.contains(&ext) {
        Some(AssetKind::Video)
    } else if AUDIO_EXTS.contains(&ext) {
        Some(AssetKind::Audio)
    } else if DOCUMENT_EXTS.contains(&ext) {
        Some(AssetKind::Document)
    } else {
        None
    }
}

/// What a file's first bytes say it is, when that is a different kind of thing than its name
/// says: a PDF, a photo, or an audio/video container behind the wrong extension is read as what it
/// is. `named` is the kind from the extension; None keeps it.
fn sniff_kind(path: &Path, named: AssetKind) -> Option<AssetKind> {
    use std::io::Read;
    let mut head = [0u8; 16];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .ok()?;
    let h = &head[..n];
    let at = |i: usize, magic: &[u8]| h.get(i..i + magic.len()) == Some(magic);
    let sniffed = if at(0, b"%PDF-") {
        AssetKind::Document
    } else if at(4, b"ftyp") || at(0, &[0x1A, 0x45, 0xDF, 0xA3]) || (at(0, b"RIFF") && at(8, b"AVI ")) {
        AssetKind::Video
    } else if (at(0, b"RIFF") && at(8, b"WAVE")) || at(0, b"ID3") || at(0, b"fLaC") || at(0, b"OggS") {
        AssetKind::Audio
    } else if matches!(
        image::guess_format(h),
        Ok(image::ImageFormat::Png
            | image::ImageFormat::Jpeg
            | image::ImageFormat::Gif
            | image::ImageFormat::WebP
            | image::ImageFormat::Bmp
            | image::ImageFormat::Tiff)
    ) {
        AssetKind::Image
    } else {
        return None;
    };
    // Audio and video share containers (an .m4a is an MP4): the name decides between them.
    let av = |k: AssetKind| matches!(k, AssetKind::Video | AssetKind::Audio);
    (sniffed != named && !(av(sniffed) && av(named))).then_some(sniffed)
}

struct Candidate {
    path: PathBuf,
    key: String,
    kind: AssetKind,
    size: u64,
    mtime_ns: i128,
    previous: Option<FileEntry>,
}

enum Prepared {
    /// Content already indexed: link the path.
    Link(FileEntry),
    /// New content, ready to embed.
    New(Box<NewContent>),
}

struct NewContent {
    file: FileEntry,
    record: AssetRecord,
    items: Vec<Item>,
    /// Indexed, but with something missing.
    warning: Option<String>,
}

/// One future segment of new content.
struct Item {
    locator: Locator,
    pixels: Option<Pixels>,
    /// Saved as the segment's thumbnail (video keyframes).
    thumbnail: Option<image::RgbImage>,
    /// Transcript or page text of the segment.
    body: String,
    words: Vec<WordTime>,
    /// Word boxes of a page or a photo with text.
    boxes: Vec<WordBox>,
    /// Sentence-embedder vector of `body`.
    text_vector: Option<Vec<f32>>,
}

impl Item {
    fn visual(locator: Locator, pixels: Option<Pixels>, thumbnail: Option<image::RgbImage>) -> Self {
        Self {
            locator,
            pixels,
            thumbnail,
            body: String::new(),
            words: Vec::new(),
            boxes: Vec::new(),
            text_vector: None,
        }
    }
}

enum Pixels {
    /// Already through CLIP preprocessing.
    Ready(ndarray::Array3<f32>),
    /// A frame to preprocess when its batch is embedded (keeps memory bounded for long videos).
    Frame(image::RgbImage),
    /// Already embedded (document pages are embedded as they are read, so a long PDF never holds
    /// its page images).
    Vector(Vec<f32>),
}

/// Consecutive shots whose keyframes are this similar become one segment...
const MERGE_COSINE: f32 = 0.95;
/// ...as long as the merged segment stays this short (seconds), so deep links stay useful.
const MERGE_MAX_SPAN: f64 = 60.0;

fn mtime_ns(meta: &std::fs::Metadata) -> i128 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i128)
}

/// Indexes everything under `root` (a folder or one file).
pub fn index_path(
    index: &Index,
    models: &Models<'_>,
    root: &Path,
    opts: &Options,
    cancel: &AtomicBool,
) -> Result<IndexReport> {
    let started = Instant::now();
    let model = models.clip;
    let root = root
        .canonicalize()
        .map_err(|e| Error::Root(root.to_path_buf(), e))?;
    let mut report = IndexReport::default();
    index.add_root(&root.to_string_lossy())?;
    let mut seen: HashSet<String> = HashSet::new();
    let mut todo: Vec<Candidate> = Vec::new();

    let spinner = progress_bar(opts.progress, None);
    spinner.set_message("scanning");
    for entry in walkdir::WalkDir::new(&root)
        .follow_links(true)
        .sort_by_file_name()
    {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e
                    .path()
                    .map_or_else(|| root.display().to_string(), |p| p.display().to_string());
                let reason = if e.loop_ancestor().is_some() {
                    "symbolic link loop".to_string()
                } else {
                    e.io_error().map_or_else(|| e.to_string(), |io| io.to_string())
                };
                report.failed.push(FileFailure { path, reason });
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        report.seen += 1;
        spinner.inc(1);
        if let Some(o) = &opts.observer {
            o.seen.fetch_add(1, Ordering::Relaxed);
        }
        let path = entry.path().to_path_buf();
        let Some(key) = path.to_str().map(str::to_string) else {
            report.failed.push(FileFailure {
                path: path.to_string_lossy().into_owned(),
                reason: "file name is not valid UTF-8 (not supported yet)".into(),
            });
            continue;
        };
        let Some(kind) = kind_of(&path) else {
            report.ignored += 1;
            continue;
        };
        seen.insert(key.clone());
        let meta = match entry.metadata() {
            Ok(m) => m,
            Err(e) => {
                report.failed.push(FileFailure {
                    path: key,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        let (size, mtime_ns) = (meta.len(), mtime_ns(&meta));
        let previous = index.catalog().file(&key)?;
        if previous
            .as_ref()
            .is_some_and(|p| p.size == size && p.mtime_ns == mtime_ns)
        {
            report.unchanged += 1;
            continue;
        }
        let kind = sniff_kind(&path, kind).unwrap_or(kind);
        todo.push(Candidate {
            path,
            key,
            kind,
            size,
            mtime_ns,
            previous,
        });
    }
    spinner.finish_and_clear();
    if let Some(o) = &opts.observer {
        o.total.store(todo.len() as u64, Ordering::Relaxed);
    }

    let bar = progress_bar(opts.progress, Some(todo.len() as u64));
    // Photos go in batches (decoded in parallel); each video or recording is a batch of its own,
    // since one file can hold hundreds of keyframes.
    let (photos, timed): (Vec<Candidate>, Vec<Candidate>) =
        todo.into_iter().partition(|c| c.kind == AssetKind::Image);
    let chunks = photos
        .chunks(opts.batch_size.max(1))
        .chain(timed.chunks(1))
        .collect::<Vec<_>>();
    for chunk in chunks {
        if cancel.load(Ordering::SeqCst) {
            report.interrupted = true;
            break;
        }
        let prepared: Vec<(usize, Result<Prepared, String>)> = chunk
            .par_iter()
            .enumerate()
            .map(|(i, c)| (i, prepare(index, models, c, opts, cancel, &bar)))
            .collect();
        if cancel.load(Ordering::SeqCst) {
            // Whatever this batch prepared is redone by the next run.
            report.interrupted = true;
            break;
        }
        let mut ops = Vec::new();
        let mut new_content = Vec::new();
        for (i, p) in prepared {
            let c = &chunk[i];
            match p {
                Ok(Prepared::Link(file)) => {
                    report.linked += 1;
                    ops.push(Op::Link {
                        path: c.key.clone(),
                        file,
                    });
                }
                Ok(Prepared::New(n)) => {
                    if let Some(w) = &n.warning {
                        report.warnings.push(FileFailure {
                            path: c.key.clone(),
                            reason: w.clone(),
                        });
                    }
                    new_content.push((c, *n));
                }
                Err(reason) => {
                    report.failed.push(FileFailure {
                        path: c.key.clone(),
                        reason: reason.trim().to_string(),
                    });
                    // The path no longer holds what the catalog says it held.
                    if c.previous.is_some() {
                        ops.push(Op::Unlink { path: c.key.clone() });
                    }
                }
            }
        }
        for (c, n) in embed_all(index, model, new_content, opts.batch_size.max(1))? {
            report.indexed += 1;
            ops.push(Op::Put {
                path: c.key.clone(),
                file: n.0,
                record: Box::new(n.1),
                segments: n.2,
            });
        }
        index.apply(ops)?;
        bar.inc(chunk.len() as u64);
        if let Some(o) = &opts.observer {
            o.done.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
    }
    bar.finish_and_clear();

    // Paths that were indexed under this root but are gone now. Only after a complete walk.
    if !report.interrupted {
        let root_key = root.to_string_lossy();
        let gone: Vec<Op> = index
            .catalog()
            .files_under(&root_key)?
            .into_iter()
            .filter(|(p, _)| !seen.contains(p))
            .map(|(path, _)| Op::Unlink { path })
            .collect();
        report.removed = gone.len() as u64;
        index.apply(gone)?;
        index.optimize()?;
    }
    report.elapsed_s = started.elapsed().as_secs_f64();
    report.files_per_s = if report.elapsed_s > 0.0 {
        report.indexed as f64 / report.elapsed_s
    } else {
        0.0
    };
    Ok(report)
}

type Built = (FileEntry, AssetRecord, Vec<SegmentWrite>);

/// Embeds every item of the new content in batches, merges near-identical consecutive shots,
/// saves thumbnails, and returns what to write.
fn embed_all<'c>(
    index: &Index,
    model: &ClipModel,
    content: Vec<(&'c Candidate, NewContent)>,
    batch: usize,
) -> Result<Vec<(&'c Candidate, Built)>> {
    // Flatten (content, item) pairs that need the model.
    let mut wanted: Vec<(usize, usize)> = Vec::new();
    for (ci, (_, n)) in content.iter().enumerate() {
        for (ii, item) in n.items.iter().enumerate() {
            if matches!(item.pixels, Some(Pixels::Ready(_) | Pixels::Frame(_))) {
                wanted.push((ci, ii));
            }
        }
    }
    let mut vectors: Vec<Vec<Option<Vec<f32>>>> = content
        .iter()
        .map(|(_, n)| {
            n.items
                .iter()
                .map(|i| match &i.pixels {
                    Some(Pixels::Vector(v)) => Some(v.clone()),
                    _ => None,
                })
                .collect()
        })
        .collect();
    let pre = model.vision.preprocessor();
    for group in wanted.chunks(batch) {
        let pixels: Vec<ndarray::Array3<f32>> = group
            .par_iter()
            .map(|&(ci, ii)| match &content[ci].1.items[ii].pixels {
                Some(Pixels::Ready(a)) => a.clone(),
                Some(Pixels::Frame(f)) => pre.apply(&image::DynamicImage::ImageRgb8(f.clone())),
                Some(Pixels::Vector(_)) | None => ndarray::Array3::zeros((0, 0, 0)),
            })
            .collect();
        let out = model.vision.embed_preprocessed(&pixels)?;
        for (&(ci, ii), v) in group.iter().zip(out) {
            if v.len() != model.manifest.dim {
                return Err(Error::Model(loupe_models::Error::Ort(format!(
                    "model returned {} values, its manifest says {}",
                    v.len(),
                    model.manifest.dim
                ))));
            }
            vectors[ci][ii] = Some(v);
        }
    }
    let mut built = Vec::with_capacity(content.len());
    for ((c, n), vecs) in content.into_iter().zip(vectors) {
        let asset_id = n.file.asset_id.clone();
        let mut segments: Vec<(Item, Option<Vec<f32>>)> = Vec::new();
        for (item, v) in n.items.into_iter().zip(vecs) {
            if let (
                Some((
                    Item {
                        locator: Locator::Shot { t_start, .. },
                        ..
                    },
                    Some(pv),
                )),
                Locator::Shot { t_end, .. },
                Some(cv),
            ) = (segments.last_mut(), &item.locator, &v)
            {
                let span = t_end - *t_start;
                let cos: f32 = pv.iter().zip(cv).map(|(a, b)| a * b).sum();
                if cos >= MERGE_COSINE && span <= MERGE_MAX_SPAN {
                    if let Some((
                        Item {
                            locator: Locator::Shot { t_end: prev_end, .. },
                            ..
                        },
                        _,
                    )) = segments.last_mut()
                    {
                        *prev_end = *t_end;
                    }
                    continue;
                }
            }
            segments.push((item, v));
        }
        let mut writes = Vec::with_capacity(segments.len());
        for (item, v) in segments {
            let segment = Segment::new(asset_id.clone(), item.locator);
            if let Some(t) = &item.thumbnail {
                save_thumbnail(&index.thumbnail_path(segment.id), t);
            }
            let vectors = v
                .map(|v| (Space::Visual, v))
                .into_iter()
                .chain(item.text_vector.map(|t| (Space::Text, t)))
                .collect();
            writes.push(SegmentWrite {
                segment,
                vectors,
                body: item.body,
                words: item.words,
                boxes: item.boxes,
            });
        }
        built.push((c, (n.file, n.record, writes)));
    }
    Ok(built)
}

/// Writes a JPEG thumbnail; failing to is not worth failing the file for.
fn save_thumbnail(path: &Path, img: &image::RgbImage) {
    let result = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .map_err(|e| e.to_string())
        .and_then(|_| {
            let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| e.to_string())?);
            let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80);
            img.write_with_encoder(enc).map_err(|e| e.to_string())
        });
    if let Err(e) = result {
        tracing::warn!("thumbnail {}: {e}", path.display());
    }
}

fn progress_bar(show: bool, len: Option<u64>) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = match len {
        Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{bar:40.cyan/blue} {pos}/{len} files  {per_sec}  eta {eta}  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{spinner} {pos} files {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// Reads, hashes and (for new content) decodes one file. Errors are per-file reasons.
fn prepare(
    index: &Index,
    models: &Models<'_>,
    c: &Candidate,
    opts: &Options,
    cancel: &AtomicBool,
    bar: &ProgressBar,
) -> Result<Prepared, String> {
    let limits = &opts.limits;
    if c.size == 0 {
        return Err("empty file (0 bytes)".into());
    }
    // Photos are read once into memory (hash + decode); videos and recordings are hashed as a
    // stream, since they can be many gigabytes, and decoded by ffmpeg from the file.
    let bytes = if c.kind == AssetKind::Image {
        if c.size > limits.max_file_bytes {
            return Err(format!(
                "file is {} bytes, over the {} byte limit for images",
                c.size, limits.max_file_bytes
            ));
        }
        Some(std::fs::read(&c.path).map_err(|e| format!("cannot read: {e}"))?)
    } else {
        None
    };
    let (hash, size) = match &bytes {
        Some(b) => (blake3::hash(b), b.len() as u64),
        None => {
            let f = std::fs::File::open(&c.path).map_err(|e| format!("cannot read: {e}"))?;
            let mut h = blake3::Hasher::new();
            h.update_reader(f).map_err(|e| format!("cannot read: {e}"))?;
            (h.finalize(), c.size)
        }
    };
    let file = FileEntry {
        asset_id: AssetId::from_hash(hash.as_bytes()),
        size,
        mtime_ns: c.mtime_ns,
    };
    if index
        .catalog()
        .asset(&file.asset_id)
        .map_err(|e| e.to_string())?
        .is_some()
    {
        return Ok(Prepared::Link(file));
    }
    match (bytes, c.kind) {
        (Some(b), _) if is_tiff(&c.path) && document::tiff_pages(&b, limits).is_ok_and(|n| n > 1) => {
            prepare_document(index, models, c, DocSource::Tiff(&b, limits), file, cancel, bar)
        }
        (Some(b), _) => prepare_image(models, c, &b, file, opts),
        (None, AssetKind::Document) => prepare_document(index, models, c, DocSource::Pdf, file, cancel, bar),
        (None, _) => prepare_timed(models, c, file, cancel, bar),
    }
}

fn prepare_image(
    models: &Models<'_>,
    c: &Candidate,
    bytes: &[u8],
    file: FileEntry,
    opts: &Options,
) -> Result<Prepared, String> {
    let decoded = decode_image(bytes, &opts.limits)?;
    let pixels = models.clip.vision.preprocessor().apply(&decoded.image);
    let mut item = Item::visual(Locator::Whole, Some(Pixels::Ready(pixels)), None);
    let mut warning = None;
    if let (Some(ocr), true) = (models.ocr, opts.photo_ocr) {
        match photo_text(ocr, models.text, &decoded.image.to_rgb8()) {
            Ok(Some((text, vector))) => {
                item.body = text.text;
                item.boxes = text.words;
                item.text_vector = vector;
            }
            Ok(None) => {}
            Err(e) => warning = Some(format!("text in the photo could not be read: {e}")),
        }
    }
    let asset = Asset {
        id: file.asset_id.clone(),
        kind: c.kind,
        path: c.key.clone(),
        paths: vec![c.key.clone()],
        size: file.size,
        mtime: (c.mtime_ns / 1_000_000_000) as i64,
        language: None,
        width: Some(decoded.image.width()),
        height: Some(decoded.image.height()),
        duration_s: None,
        pages: None,
        captured_at: decoded.captured_at.clone(),
    };
    Ok(Prepared::New(Box::new(NewContent {
        file,
        record: AssetRecord {
            asset,
            captured_ts: decoded.captured_ts,
            segments: vec![],
        },
        items: vec![item],
        warning,
    })))
}

/// Short side of the quick text check on photos, and how many boxes it must find.
const PHOTO_TEXT_CHECK: (u32, usize) = (320, 2);

/// Text read in a photo, and its text vector (when a text model is loaded).
type PhotoText = (loupe_schemas::PageText, Option<Vec<f32>>);

/// Text in a photo: a quick detection at low resolution, then full OCR only if it found text.
fn photo_text(
    ocr: &Ocr,
    text_model: Option<&TextEmbedder>,
    img: &image::RgbImage,
) -> Result<Option<PhotoText>, String> {
    let (side, boxes) = PHOTO_TEXT_CHECK;
    if !ocr.has_text(img, side, boxes).map_err(|e| e.to_string())? {
        return Ok(None);
    }
    let text = document::read_image(ocr, img)?;
    if text.words.is_empty() {
        return Ok(None);
    }
    let vector = match text_model {
        Some(m) => Some(m.embed_long(&text.text).map_err(|e| e.to_string())?),
        None => None,
    };
    Ok(Some((text, vector)))
}

/// Pages embedded per CLIP run while a document is read.
const PAGE_BATCH: usize = 8;

/// Embeds the pages read so far and turns them into items (thumbnails are written now, so page
/// images are not kept).
fn flush_pages(
    index: &Index,
    models: &Models<'_>,
    asset_id: &AssetId,
    pending: &mut Vec<document::Page>,
    items: &mut Vec<Item>,
) -> Result<(), String> {
    if pending.is_empty() {
        return Ok(());
    }
    let pre = models.clip.vision.preprocessor();
    let pixels: Vec<ndarray::Array3<f32>> = pending
        .iter()
        .map(|p| pre.apply(&image::DynamicImage::ImageRgb8(p.image.clone())))
        .collect();
    let vectors = models
        .clip
        .vision
        .embed_preprocessed(&pixels)
        .map_err(|e| e.to_string())?;
    for (page, v) in pending.drain(..).zip(vectors) {
        let t = page.text;
        let locator = Locator::Page {
            page: t.page,
            width: t.width,
            height: t.height,
        };
        save_thumbnail(
            &index.thumbnail_path(Segment::new(asset_id.clone(), locator.clone()).id),
            &page.image,
        );
        let text_vector = match models.text {
            Some(m) if !t.text.trim().is_empty() => Some(m.embed_long(&t.text).map_err(|e| e.to_string())?),
            _ => None,
        };
        items.push(Item {
            locator,
            pixels: Some(Pixels::Vector(v)),
            thumbnail: None,
            body: t.text,
            words: Vec::new(),
            boxes: t.words,
            text_vector,
        });
    }
    Ok(())
}

fn is_tiff(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("tif") || e.eq_ignore_ascii_case("tiff"))
}

/// Where a document's pages come from.
enum DocSource<'a> {
    /// The candidate's file, through poppler.
    Pdf,
    /// A multi-page TIFF already in memory.
    Tiff(&'a [u8], &'a DecodeLimits),
}

/// Documents: one item per page (CLIP vector of the rendered page, its text and word boxes).
fn prepare_document(
    index: &Index,
    models: &Models<'_>,
    c: &Candidate,
    source: DocSource<'_>,
    file: FileEntry,
    cancel: &AtomicBool,
    bar: &ProgressBar,
) -> Result<Prepared, String> {
    let name = c
        .path
        .file_name()
        .map_or_else(|| c.key.clone(), |n| n.to_string_lossy().into_owned());
    let mut items = Vec::new();
    let mut pending: Vec<document::Page> = Vec::new();
    let mut on_page = |total: u32, page: document::Page| {
        bar.set_message(format!("{name}: page {}/{total}", page.text.page));
        pending.push(page);
        if pending.len() >= PAGE_BATCH {
            flush_pages(index, models, &file.asset_id, &mut pending, &mut items)?;
        }
        Ok(())
    };
    let read = match source {
        DocSource::Pdf => document::read_pdf(&c.path, models.ocr, cancel, &mut on_page)?,
        DocSource::Tiff(bytes, limits) => {
            document::read_tiff(bytes, limits, models.ocr, cancel, &mut on_page)?
        }
    };
    flush_pages(index, models, &file.asset_id, &mut pending, &mut items)?;
    if items.is_empty() {
        let reason = read.failed_pages.first().map_or_else(
            || "no page could be read".to_string(),
            |(p, e)| format!("page {p}: {e}"),
        );
        return Err(format!("no page could be read ({reason})"));
    }
    let warning = (!read.failed_pages.is_empty()).then(|| {
        let list: Vec<String> = read
            .failed_pages
            .iter()
            .take(5)
            .map(|(p, e)| format!("page {p}: {e}"))
            .collect();
        format!(
            "{} of {} pages could not be read ({}{})",
            read.failed_pages.len(),
            read.info.pages,
            list.join("; "),
            if read.failed_pages.len() > 5 { "; ..." } else { "" }
        )
    });
    let (captured_at, captured_ts) = read
        .info
        .created
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .filter(|t| t.timestamp() > 0)
        .map(|t| (t.to_rfc3339(), t.timestamp()))
        .unzip();
    let asset = Asset {
        id: file.asset_id.clone(),
        kind: AssetKind::Document,
        path: c.key.clone(),
        paths: vec![c.key.clone()],
        size: file.size,
        mtime: (c.mtime_ns / 1_000_000_000) as i64,
        language: None,
        width: Some(read.info.page_size.0.round() as u32),
        height: Some(read.info.page_size.1.round() as u32),
        duration_s: None,
        pages: Some(read.info.pages),
        captured_at,
    };
    Ok(Prepared::New(Box::new(NewContent {
        file,
        record: AssetRecord {
            asset,
            captured_ts,
            segments: vec![],
        },
        items,
        warning,
    })))
}

/// Videos and recordings: probe, then one item per shot (videos), or one whole-file item
/// (recordings, and videos whose picture cannot be read but whose sound can), plus one item per
/// transcript segment when the file has sound and a speech model is loaded.
fn prepare_timed(
    models: &Models<'_>,
    c: &Candidate,
    file: FileEntry,
    cancel: &AtomicBool,
    bar: &ProgressBar,
) -> Result<Prepared, String> {
    let probe = video::probe(&c.path)?;
    let name = c
        .path
        .file_name()
        .map_or_else(|| c.key.clone(), |n| n.to_string_lossy().into_owned());
    bar.set_message(format!("shots: {name}"));
    let shots = match probe.video {
        Some(_) => match video::shots(&c.path, &probe, &video::ShotParams::default()) {
            Ok(s) => s,
            Err(e) if probe.has_audio => {
                tracing::warn!("{}: picture unreadable ({e}); indexing the sound only", c.key);
                Vec::new()
            }
            Err(e) => return Err(e),
        },
        None => Vec::new(),
    };
    let kind = if shots.is_empty() {
        AssetKind::Audio
    } else {
        AssetKind::Video
    };
    let (captured_at, captured_ts) = probe
        .creation_time
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .filter(|t| t.timestamp() > 0)
        .map(|t| (t.to_rfc3339(), t.timestamp()))
        .unzip();
    let mut items = if shots.is_empty() {
        vec![Item::visual(Locator::Whole, None, None)]
    } else {
        shots
            .into_iter()
            .map(|s| {
                let locator = Locator::Shot {
                    t_start: s.t_start,
                    t_end: s.t_end,
                    keyframe: s.keyframe_t,
                };
                let thumb = Some(s.keyframe.clone());
                Item::visual(locator, Some(Pixels::Frame(s.keyframe)), thumb)
            })
            .collect()
    };
    let mut warning = None;
    let mut language = None;
    if let (true, Some(whisper)) = (probe.has_audio, models.whisper) {
        let total = probe.duration_s;
        let progress = |done: f64| {
            bar.set_message(format!("transcribing {name} {}/{}", clock(done), clock(total)));
        };
        match audio::transcribe_file(&c.path, whisper, models.decode, cancel, &progress) {
            Ok(t) => {
                warning = t
                    .warning
                    .map(|w| format!("sound partly unreadable, transcript may be short: {w}"));
                if !t.transcript.segments.is_empty() {
                    language = Some(t.transcript.language.clone()).filter(|l| !l.is_empty());
                }
                let mut spoken = spoken_items(t.transcript.segments);
                if let Some(m) = models.text {
                    for batch in spoken.chunks_mut(32) {
                        let texts: Vec<&str> = batch.iter().map(|i| i.body.as_str()).collect();
                        let vs = m.embed(&texts).map_err(|e| e.to_string())?;
                        for (item, v) in batch.iter_mut().zip(vs) {
                            item.text_vector = Some(v);
                        }
                    }
                }
                items.extend(spoken);
            }
            Err(e) if e == audio::INTERRUPTED => return Err(e),
            // The picture (or the name, for a recording) is still worth indexing.
            Err(e) => warning = Some(format!("no transcript: {e}")),
        }
    }
    let asset = Asset {
        id: file.asset_id.clone(),
        kind,
        path: c.key.clone(),
        paths: vec![c.key.clone()],
        size: file.size,
        mtime: (c.mtime_ns / 1_000_000_000) as i64,
        width: probe.video.map(|v| v.0),
        height: probe.video.map(|v| v.1),
        duration_s: Some(probe.duration_s),
        pages: None,
        captured_at,
        language,
    };
    Ok(Prepared::New(Box::new(NewContent {
        file,
        record: AssetRecord {
            asset,
            captured_ts,
            segments: vec![],
        },
        items,
        warning,
    })))
}

/// Transcript segments as items. Segments that share a start (rounded to the id's millisecond
/// key) are joined, so every item has its own segment id.
fn spoken_items(segments: Vec<loupe_schemas::TranscriptSegment>) -> Vec<Item> {
    let mut items: Vec<Item> = Vec::with_capacity(segments.len());
    for s in segments {
        let locator = Locator::Span {
            t_start: (s.start * 1000.0).round() / 1000.0,
            t_end: (s.end * 1000.0).round() / 1000.0,
        };
        if let Some(last) = items.last_mut()
            && last.locator.key() == locator.key()
        {
            last.body.push(' ');
            last.body.push_str(&s.text);
            last.words.extend(s.words);
            continue;
        }
        items.push(Item {
            locator,
            pixels: None,
            thumbnail: None,
            body: s.text,
            words: s.words,
            boxes: Vec::new(),
            text_vector: None,
        });
    }
    items
}

/// `h:mm:ss` or `m:ss`.
fn clock(s: f64) -> String {
    let t = s.max(0.0) as u64;
    let (h, m, sec) = (t / 3600, t / 60 % 60, t % 60);
    if h > 0 {
        format!("{h}:{m:02}:{sec:02}")
    } else {
        format!("{m}:{sec:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_extension() {
        assert_eq!(kind_of(Path::new("/a/B.JPG")), Some(AssetKind::Image));
        assert_eq!(kind_of(Path::new("/a/b.webp")), Some(AssetKind::Image));
        assert_eq!(kind_of(Path::new("/a/b.txt")), None);
        assert_eq!(kind_of(Path::new("/a/noext")), None);
    }

    #[test]
    fn content_decides_when_the_name_lies() {
        let dir = tempfile::tempdir().unwrap();
        let put = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let pdf = put("a.png", b"%PDF-1.7\n1 0 obj");
        assert_eq!(sniff_kind(&pdf, AssetKind::Image), Some(AssetKind::Document));
        let png = put("b.pdf", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
        assert_eq!(sniff_kind(&png, AssetKind::Document), Some(AssetKind::Image));
        let mp4 = put("c.jpg", b"\0\0\0\x18ftypmp42\0\0\0\0");
        assert_eq!(sniff_kind(&mp4, AssetKind::Image), Some(AssetKind::Video));
        // An .m4a is an MP4 container: audio stays audio.
        let m4a = put("d.m4a", b"\0\0\0\x18ftypM4A \0\0\0\0");
        assert_eq!(sniff_kind(&m4a, AssetKind::Audio), None);
        // Unknown content keeps the name's kind (and fails later with a reason).
        let text = put("e.mp4", b"plain text pretending");
        assert_eq!(sniff_kind(&text, AssetKind::Video), None);
        // Agreement changes nothing.
        assert_eq!(sniff_kind(&pdf, AssetKind::Document), None);
    }
}
