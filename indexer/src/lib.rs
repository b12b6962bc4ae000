//! loupe-indexer: turns a folder of media into Index entries.
//!
//! A run ([`index_path`]) walks, plans, reads, embeds and writes, one concern per module:
//! 1. `plan`: walk the folder (symlinks followed, loops reported) and compare each
//!    file's size and mtime with the catalog: unchanged files cost one `stat`; changed or new
//!    files are read once and hashed (BLAKE3 = asset id), and content already indexed (a copy or
//!    a move) is linked without re-embedding;
//! 2. `prepare`: new content is decoded (EXIF orientation applied, capture date read,
//!    decompression bombs refused) and preprocessed in parallel (rayon); videos and recordings go
//!    through [`video`] (shots and keyframes) and [`audio`] (voice activity, Whisper transcript
//!    with word times: `Span` segments with their text and a sentence-embedder vector); PDFs and
//!    multi-page TIFFs through [`document`] (one `Page` segment per page with a CLIP vector, a
//!    thumbnail, and its words with boxes from the text layer, else OCR); photos with text in them
//!    get the same OCR on their one segment;
//! 3. `embed`: CLIP vectors a batch at a time, near-identical consecutive shots merged;
//! 4. `write`: each batch is one [`loupe_store::Index::apply`], which commits the catalog last, so
//!    an interrupted run resumes where it stopped and never duplicates;
//! 5. paths under the root that are gone are removed, and `report` totals the run.
//!
//! A bad file never stops a run: it is reported in [`IndexReport::failed`] with a reason; a file
//! that is indexed with something missing (a video whose sound cannot be decoded) is reported in
//! [`IndexReport::warnings`]. How far a run has got is told to a [`Progress`] (the library never
//! draws).
//!
//! Not for: search, drawing progress, or deciding which model to use (the caller passes loaded
//! [`Models`]).

pub mod audio;
pub mod document;
pub mod progress;
pub mod video;

mod embed;
mod plan;
mod prepare;
mod report;
mod write;

#[cfg(test)]
mod run_tests;
#[cfg(test)]
mod testing;

pub use progress::{Counters, NoProgress, Progress};

use loupe_media::DecodeLimits;
use loupe_models::whisper::Decode;
use loupe_models::{Ocr, SentenceEmbedder, VisualEmbedder, Whisper};
use loupe_schemas::IndexReport;
use loupe_store::Index;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

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
    /// The visual space (CLIP, or the fake in tests): every photo, page and keyframe gets a vector.
    pub clip: &'a dyn VisualEmbedder,
    /// Sentence embedder for transcript text; without it transcripts are searchable by BM25 only.
    pub text: Option<&'a dyn SentenceEmbedder>,
    /// Speech recogniser; without it videos and recordings get no transcript.
    pub whisper: Option<&'a Whisper>,
    /// Text reader; without it scanned pages and photos get no text (PDF text layers still do).
    pub ocr: Option<&'a Ocr>,
    pub decode: &'a Decode,
}

impl<'a> Models<'a> {
    /// The models of a loaded [`loupe_models::ModelSet`], decoding speech with `decode`.
    pub fn from_set(set: &'a loupe_models::ModelSet, decode: &'a Decode) -> Self {
        Self {
            clip: set.clip.as_ref(),
            text: set.text.as_deref().map(|t| t as &dyn SentenceEmbedder),
            whisper: set.whisper.as_ref(),
            ocr: set.ocr.as_ref(),
            decode,
        }
    }
}

/// Knobs of a run.
#[derive(Clone)]
pub struct Options {
    /// Images per ONNX run.
    pub batch_size: usize,
    pub limits: DecodeLimits,
    /// Look for text in photos (a quick detection first; full OCR only where text is found).
    pub photo_ocr: bool,
    /// Told how far the run has got (the `loupe` command draws it; the server's index jobs
    /// count it). [`NoProgress`] by default.
    pub progress: Arc<dyn Progress>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            batch_size: 16,
            limits: DecodeLimits::default(),
            photo_ocr: true,
            progress: Arc::new(NoProgress),
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("batch_size", &self.batch_size)
            .field("limits", &self.limits)
            .field("photo_ocr", &self.photo_ocr)
            .finish_non_exhaustive()
    }
}

/// Indexes everything under `root` (a folder or one file). `cancel` stops the run at the next
/// batch boundary (the report says `interrupted`; the next run goes on from there).
pub fn index_path(
    index: &Index,
    models: &Models<'_>,
    root: &Path,
    opts: &Options,
    cancel: &AtomicBool,
) -> Result<IndexReport> {
    let started = Instant::now();
    let root = root
        .canonicalize()
        .map_err(|e| Error::Root(root.to_path_buf(), e))?;
    let mut report = IndexReport::default();
    index.add_root(&root.to_string_lossy())?;
    let progress = opts.progress.as_ref();

    let walk = plan::walk(index, &root, &mut report, progress)?;
    progress.walk_done(walk.todo.len() as u64);
    for batch in plan::batches(walk.todo, opts.batch_size) {
        if cancel.load(Ordering::SeqCst) {
            report.interrupted = true;
            break;
        }
        let prepared: Vec<_> = batch
            .par_iter()
            .map(|c| prepare::prepare(index, models, c, opts, cancel, progress))
            .collect();
        if cancel.load(Ordering::SeqCst) {
            // Whatever this batch prepared is redone by the next run.
            report.interrupted = true;
            break;
        }
        write::write_batch(
            index,
            models.clip,
            batch.iter().zip(prepared),
            opts.batch_size,
            &mut report,
        )?;
        progress.files_done(batch.len() as u64);
    }
    progress.finished();

    // Paths that were indexed under this root but are gone now. Only after a complete walk.
    if !report.interrupted {
        let gone = plan::gone(index, &root, &walk.seen)?;
        report.removed = gone.len() as u64;
        index.apply(gone)?;
        index.optimize()?;
    }
    Ok(report::finish(report, started))
}
