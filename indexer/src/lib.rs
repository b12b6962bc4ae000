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
//! A bad file never stops a run: it is reported in [`IndexReport::failed`] with a reason.
//!
//! Not for: search, or deciding which model to use (the caller passes a loaded [`ClipModel`]).

pub use loupe_models::media::{DecodeLimits, DecodedImage, decode_image};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use loupe_models::ClipModel;
use loupe_schemas::{Asset, AssetId, AssetKind, FileFailure, IndexReport, Locator, Segment};
use loupe_store::{AssetRecord, FileEntry, Index, Op, SegmentWrite, Space};
use rayon::prelude::*;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
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

/// Knobs of a run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Images per ONNX run.
    pub batch_size: usize,
    pub limits: DecodeLimits,
    /// Draw a progress bar on stderr (hidden anyway when stderr is not a terminal).
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            batch_size: 16,
            limits: DecodeLimits::default(),
            progress: true,
        }
    }
}

/// File extensions read as images.
const IMAGE_EXTS: &[&str] = &["jpg", "jpeg", "jpe", "png", "webp", "gif", "tif", "tiff", "bmp"];

/// The kind of media a path names, by extension; `None` for files Loupe does not read.
pub fn kind_of(path: &Path) -> Option<AssetKind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    IMAGE_EXTS.contains(&ext.as_str()).then_some(AssetKind::Image)
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
    pixels: ndarray::Array3<f32>,
}

fn mtime_ns(meta: &std::fs::Metadata) -> i128 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i128)
}

/// Indexes everything under `root` (a folder or one file).
pub fn index_path(
    index: &Index,
    model: &ClipModel,
    root: &Path,
    opts: &Options,
    cancel: &AtomicBool,
) -> Result<IndexReport> {
    let started = Instant::now();
    let root = root
        .canonicalize()
        .map_err(|e| Error::Root(root.to_path_buf(), e))?;
    let mut report = IndexReport::default();
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

    let bar = progress_bar(opts.progress, Some(todo.len() as u64));
    let model_dim = model.manifest.dim;
    for chunk in todo.chunks(opts.batch_size.max(1)) {
        if cancel.load(Ordering::SeqCst) {
            report.interrupted = true;
            break;
        }
        let prepared: Vec<(usize, Result<Prepared, String>)> = chunk
            .par_iter()
            .enumerate()
            .map(|(i, c)| (i, prepare(index, model, c, &opts.limits)))
            .collect();
        let mut ops = Vec::new();
        let mut new_items = Vec::new();
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
                Ok(Prepared::New(n)) => new_items.push((c, n.file, n.record, n.pixels)),
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
        if !new_items.is_empty() {
            let pixels: Vec<_> = new_items.iter().map(|(_, _, _, p)| p.clone()).collect();
            let vectors = model.vision.embed_preprocessed(&pixels)?;
            for ((c, file, record, _), v) in new_items.into_iter().zip(vectors) {
                if v.len() != model_dim {
                    report.failed.push(FileFailure {
                        path: c.key.clone(),
                        reason: format!("model returned {} values, manifest says {model_dim}", v.len()),
                    });
                    continue;
                }
                report.indexed += 1;
                let segment = Segment::new(file.asset_id.clone(), Locator::Whole);
                ops.push(Op::Put {
                    path: c.key.clone(),
                    file,
                    record,
                    segments: vec![SegmentWrite {
                        segment,
                        vectors: vec![(Space::Visual, v)],
                        body: String::new(),
                    }],
                });
            }
        }
        index.apply(ops)?;
        bar.inc(chunk.len() as u64);
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
    model: &ClipModel,
    c: &Candidate,
    limits: &DecodeLimits,
) -> Result<Prepared, String> {
    if c.size == 0 {
        return Err("empty file (0 bytes)".into());
    }
    if c.size > limits.max_file_bytes {
        return Err(format!(
            "file is {} bytes, over the {} byte limit for images",
            c.size, limits.max_file_bytes
        ));
    }
    let bytes = std::fs::read(&c.path).map_err(|e| format!("cannot read: {e}"))?;
    let asset_id = AssetId::from_hash(blake3::hash(&bytes).as_bytes());
    let file = FileEntry {
        asset_id: asset_id.clone(),
        size: bytes.len() as u64,
        mtime_ns: c.mtime_ns,
    };
    if index
        .catalog()
        .asset(&asset_id)
        .map_err(|e| e.to_string())?
        .is_some()
    {
        return Ok(Prepared::Link(file));
    }
    let decoded = decode_image(&bytes, limits)?;
    let pixels = model.vision.preprocessor().apply(&decoded.image);
    let asset = Asset {
        id: asset_id,
        kind: c.kind,
        path: c.key.clone(),
        paths: vec![c.key.clone()],
        size: bytes.len() as u64,
        mtime: (c.mtime_ns / 1_000_000_000) as i64,
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
        },
        pixels,
    })))
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
}
