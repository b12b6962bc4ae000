//! loupe-store: the Index, the one place Loupe's data lives.
//!
//! An index folder holds:
//! - `vectors/`: Qdrant (embedded `qdrant-edge`) with named vectors, one point per segment, and payload
//!   indexes for every filter ([`vectors`]); a Qdrant server implements the same [`VectorBackend`] trait;
//! - `text/`: tantivy over names, paths and text ([`text`]);
//! - `catalog.redb`: which path holds which content and what each asset is ([`catalog`]);
//! - `index.json`: which models built it ([`IndexMeta`]); a query with another model is refused.
//!
//! Invariants: point ids are UUIDv5 of (asset id, locator), so writing twice is an upsert; the catalog
//! is committed last, so a crash leaves work to redo, never a path that is marked done without its data.
//! One writer process at a time (`lock` file); readers share.
//!
//! Not for: decoding media or running models.

pub mod catalog;
mod migrate;
pub mod text;
pub mod vectors;

#[cfg(test)]
mod apply_tests;

pub use catalog::{AssetRecord, Catalog, CatalogChanges, FileEntry};
pub use migrate::{MigrateReport, MigrateTarget};
pub use text::{SegmentText, TextDoc, TextHit, TextIndex};
pub use vectors::{
    CollectionModels, EdgeBackend, Location, Page, Point, PointPayload, QdrantBackend, QdrantConfig, Scored,
    Space, VectorBackend, VectorQuery, ancestor_dirs,
};

use loupe_schemas::{AssetId, ErrorCode, Segment, Uuid, WordBox, WordTime};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

/// What [`Index::check`] found. Clean when every list is empty.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Consistency {
    pub files: usize,
    pub assets: usize,
    pub segments: usize,
    pub points: usize,
    pub text_docs: usize,
    /// Points whose segment no catalog asset has.
    pub orphan_points: Vec<Uuid>,
    /// Text documents whose segment no catalog asset has.
    pub orphan_text_docs: Vec<Uuid>,
    /// Segments with more than one text document.
    pub duplicate_text_docs: Vec<Uuid>,
    /// Catalog segments without a text document.
    pub segments_without_text: Vec<Uuid>,
    /// Paths whose asset is not in the catalog.
    pub paths_without_asset: Vec<String>,
    /// Assets that orphan points or documents belong to (what [`Index::repair`] removes).
    pub orphan_assets: Vec<AssetId>,
}

impl Consistency {
    pub fn is_clean(&self) -> bool {
        self.orphan_points.is_empty()
            && self.orphan_text_docs.is_empty()
            && self.duplicate_text_docs.is_empty()
            && self.segments_without_text.is_empty()
            && self.paths_without_asset.is_empty()
    }
}

/// The free space (MiB) below which an index refuses writes, unless the caller says otherwise.
pub const DEFAULT_MIN_FREE_MIB: u64 = 64;

/// How an index is opened. The `loupe` command fills it from its settings (`LOUPE_MIN_FREE_MB`,
/// `--qdrant-url`, the `[qdrant]` section); this crate reads no environment.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenOptions {
    /// Free space (MiB) below which writes are refused with [`Error::DiskFull`].
    pub min_free_mib: u64,
    /// The Qdrant server that holds (or will hold) the vectors; `None`: embedded Qdrant Edge. An
    /// index remembers which it was built with and refuses the other.
    pub qdrant: Option<QdrantConfig>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            min_free_mib: DEFAULT_MIN_FREE_MIB,
            qdrant: None,
        }
    }
}

/// [`Error::DiskFull`] when the disk holding `dir` has less than `min_mib` MiB free.
fn ensure_space(dir: &Path, min_mib: u64) -> Result<()> {
    match free_bytes(dir) {
        Some(free) if free < min_mib << 20 => Err(Error::DiskFull {
            dir: dir.to_path_buf(),
            free_mib: free >> 20,
            min_mib,
        }),
        _ => Ok(()),
    }
}

/// Bytes available to this user on the file system holding `dir` (statvfs); None if unknown.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a valid NUL-terminated path and `st` a writable statvfs buffer.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled the buffer.
    let st = unsafe { st.assume_init() };
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no index at {0} (run `loupe index PATH` first)")]
    NoIndex(PathBuf),
    #[error(
        "the index at {dir} was built with visual model '{index_model}', but the query uses '{query_model}'; \
         use the same model (--model) or rebuild the index into another --index folder"
    )]
    ModelMismatch {
        dir: PathBuf,
        index_model: String,
        query_model: String,
    },
    #[error(
        "the index at {dir} was built with text model '{index_model}', but this run uses '{query_model}'; \
         use the same model (--text-model) or rebuild the index into another --index folder"
    )]
    TextModelMismatch {
        dir: PathBuf,
        index_model: String,
        query_model: String,
    },
    #[error("index is busy: {0}")]
    Busy(String),
    #[error(
        "the disk holding {dir} is full: {free_mib} MiB free, and Loupe stops writing below \
         {min_mib} MiB (vector files are memory-mapped, and a write past the end of the disk would \
         crash): free some space and run again; what was indexed so far is kept"
    )]
    DiskFull {
        dir: PathBuf,
        free_mib: u64,
        min_mib: u64,
    },
    #[error("vector store: {0}")]
    Vector(String),
    /// The vector server could not be reached, even after retries.
    #[error("vector store unavailable: {0}")]
    VectorUnavailable(String),
    /// The vector store's settings cannot work (a bad URL, a refused key, the wrong backend).
    #[error("vector store: {0}")]
    VectorConfig(String),
    /// A server collection made by other models or dimensions.
    #[error("vector store: {0}")]
    CollectionMismatch(String),
    #[error("text index: {0}")]
    Text(String),
    #[error("catalog: {0}")]
    Catalog(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// Stable machine-readable code for JSON error bodies.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::NoIndex(_) => ErrorCode::NoIndex,
            Self::ModelMismatch { .. } | Self::TextModelMismatch { .. } => ErrorCode::ModelMismatch,
            Self::Busy(_) => ErrorCode::IndexBusy,
            Self::DiskFull { .. } => ErrorCode::DiskFull,
            Self::Vector(_) | Self::Text(_) | Self::Catalog(_) => ErrorCode::StoreError,
            Self::VectorUnavailable(_) => ErrorCode::StoreUnavailable,
            Self::VectorConfig(_) => ErrorCode::Config,
            Self::CollectionMismatch(_) => ErrorCode::ModelMismatch,
            Self::Io { .. } => ErrorCode::IoError,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `index.json`: what built this index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexMeta {
    pub format: u32,
    /// `name@fingerprint` of the CLIP model whose image tower wrote the visual vectors.
    pub visual_model: String,
    pub visual_dim: usize,
    /// `name@fingerprint` of the sentence embedder that wrote the text vectors (transcripts, OCR
    /// text); `None` when the index was built without one (then text is searched by BM25 only).
    #[serde(default)]
    pub text_model: Option<String>,
    #[serde(default)]
    pub text_dim: Option<usize>,
    /// Seconds since the Unix epoch.
    pub created_unix: u64,
    /// Where the vectors live (absent in older indexes: embedded).
    #[serde(default)]
    pub vectors: VectorsAt,
}

/// Where an index keeps its vectors (in `index.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "backend", rename_all = "snake_case")]
pub enum VectorsAt {
    /// Qdrant Edge in the index's `vectors/` folder.
    #[default]
    Embedded,
    /// A collection on a Qdrant server. The URL is where it was created (a hint for messages:
    /// query nodes may reach the same cluster by another address).
    Qdrant { collection: String, url: String },
}

impl IndexMeta {
    /// The models of this index as a server collection records them.
    pub fn collection_models(&self) -> CollectionModels {
        CollectionModels {
            visual: (self.visual_model.clone(), self.visual_dim),
            text: self.text_model.clone().zip(self.text_dim),
        }
    }
}

/// The collection name an index gets on a Qdrant server unless one is set: `loupe_` and the
/// folder's name (letters, digits, `_` and `-`), then 8 hex digits of a hash of its full path, so
/// two indexes never share one by accident and copies of an index folder keep theirs.
pub fn default_collection_name(dir: &Path) -> String {
    let full = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let base: String = full
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(32)
        .collect();
    let hash = Uuid::new_v5(&Uuid::NAMESPACE_URL, full.to_string_lossy().as_bytes())
        .simple()
        .to_string();
    format!("loupe_{base}_{}", &hash[..8])
}

/// A model an index is built with: `name@fingerprint` and output dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    pub id: String,
    pub dim: usize,
}

/// The models that write an index's vector spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexModels {
    pub visual: ModelSpec,
    pub text: Option<ModelSpec>,
}

const FORMAT: u32 = 4;
const META_FILE: &str = "index.json";

/// How an index is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// A segment to write: its vectors and its text.
#[derive(Debug, Clone)]
pub struct SegmentWrite {
    pub segment: Segment,
    pub vectors: Vec<(Space, Vec<f32>)>,
    pub body: String,
    /// Word times of a transcript segment (for landing on the matched word).
    pub words: Vec<WordTime>,
    /// Word boxes of a page (for pointing at the matched words).
    pub boxes: Vec<WordBox>,
}

/// One change to the index, as the indexer sees it.
#[derive(Debug, Clone)]
pub enum Op {
    /// New content at `path`, with its segments already embedded.
    Put {
        path: String,
        file: FileEntry,
        record: Box<AssetRecord>,
        segments: Vec<SegmentWrite>,
    },
    /// `path` holds content that is already indexed (a copy or a move): no embedding needed.
    Link { path: String, file: FileEntry },
    /// `path` no longer exists (or no longer holds media).
    Unlink { path: String },
}

/// The Index: vectors + text + catalog, opened together.
pub struct Index {
    dir: PathBuf,
    meta: IndexMeta,
    vectors: Box<dyn VectorBackend>,
    text: TextIndex,
    catalog: Catalog,
    access: Access,
    options: OpenOptions,
    _lock: File,
}

fn lock(dir: &Path, access: Access) -> Result<File> {
    let path = dir.join("lock");
    let f = File::options()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let res = match access {
        Access::Write => f.try_lock(),
        Access::Read => f.try_lock_shared(),
    };
    match res {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Busy(format!(
            "{} is being {} by another Loupe process; wait for it to finish",
            dir.display(),
            match access {
                Access::Write => "used",
                Access::Read => "written",
            }
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(format!("locking {}", path.display()), e)),
    }
}

impl Index {
    /// Opens an existing index with the default [`OpenOptions`].
    pub fn open(dir: &Path, access: Access) -> Result<Self> {
        Self::open_with(dir, access, &OpenOptions::default())
    }

    /// Opens an existing index.
    pub fn open_with(dir: &Path, access: Access, options: &OpenOptions) -> Result<Self> {
        let meta_path = dir.join(META_FILE);
        if !meta_path.is_file() {
            return Err(Error::NoIndex(dir.to_path_buf()));
        }
        let lock = lock(dir, access)?;
        let meta: IndexMeta = serde_json::from_str(
            &std::fs::read_to_string(&meta_path)
                .map_err(|e| Error::io(format!("reading {}", meta_path.display()), e))?,
        )
        .map_err(|e| Error::Catalog(format!("{}: {e}", meta_path.display())))?;
        if meta.format != FORMAT {
            return Err(Error::Catalog(format!(
                "{} has format {}, this Loupe reads format {FORMAT}; rebuild the index",
                meta_path.display(),
                meta.format
            )));
        }
        Self::open_parts(dir, meta, access, lock, options, false)
    }

    /// Opens the index for writing with these models, creating it if needed. An existing index
    /// built by other models is refused.
    pub fn open_or_create(dir: &Path, models: &IndexModels) -> Result<Self> {
        Self::open_or_create_with(dir, models, &OpenOptions::default())
    }

    /// [`Index::open_or_create`] with these options.
    pub fn open_or_create_with(dir: &Path, models: &IndexModels, options: &OpenOptions) -> Result<Self> {
        if dir.join(META_FILE).is_file() {
            let idx = Self::open_with(dir, Access::Write, options)?;
            idx.check_model(&models.visual.id)?;
            match (&idx.meta.text_model, &models.text) {
                (Some(have), Some(want)) if have != &want.id => {
                    return Err(Error::TextModelMismatch {
                        dir: dir.to_path_buf(),
                        index_model: have.clone(),
                        query_model: want.id.clone(),
                    });
                }
                (None, Some(want)) => {
                    return Err(Error::TextModelMismatch {
                        dir: dir.to_path_buf(),
                        index_model: "none".into(),
                        query_model: want.id.clone(),
                    });
                }
                _ => {}
            }
            return Ok(idx);
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        // Qdrant maps its page files on creation: refuse a nearly full disk before that.
        ensure_space(dir, options.min_free_mib)?;
        let lock = lock(dir, Access::Write)?;
        let vectors = match &options.qdrant {
            None => VectorsAt::Embedded,
            Some(q) => VectorsAt::Qdrant {
                collection: q
                    .collection
                    .clone()
                    .unwrap_or_else(|| default_collection_name(dir)),
                url: q.display_url(),
            },
        };
        let meta = IndexMeta {
            vectors,
            format: FORMAT,
            visual_model: models.visual.id.clone(),
            visual_dim: models.visual.dim,
            text_model: models.text.as_ref().map(|t| t.id.clone()),
            text_dim: models.text.as_ref().map(|t| t.dim),
            created_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        };
        let idx = Self::open_parts(dir, meta.clone(), Access::Write, lock, options, true)?;
        // Written last: a folder without index.json is not an index yet.
        write_meta(dir, &meta)?;
        Ok(idx)
    }

    fn open_parts(
        dir: &Path,
        meta: IndexMeta,
        access: Access,
        lock: File,
        options: &OpenOptions,
        new: bool,
    ) -> Result<Self> {
        // A server collection is created with a new index only: if an existing index's
        // collection is gone, that is an error, not an empty collection.
        let vectors = open_vectors(dir, &meta, options, new)?;
        let text = match access {
            Access::Write => TextIndex::open_writer(&dir.join("text"))?,
            Access::Read => TextIndex::open_reader(&dir.join("text"))?,
        };
        let catalog = Catalog::open(&dir.join("catalog.redb"))?;
        let index = Self {
            dir: dir.to_path_buf(),
            meta,
            vectors,
            text,
            catalog,
            access,
            options: options.clone(),
            _lock: lock,
        };
        if access == Access::Write {
            index.recover()?;
        }
        Ok(index)
    }

    /// Cleans up after a run that died between writing vectors/text and committing the catalog:
    /// the points and documents of pending assets the catalog never took in are removed (the next
    /// run redoes those files anyway; if a file is gone meanwhile, nothing is left behind).
    fn recover(&self) -> Result<()> {
        let pending = self.catalog.pending()?;
        if pending.is_empty() {
            return Ok(());
        }
        let mut cleaned = 0;
        for id in &pending {
            if self.catalog.asset(id)?.is_none() {
                self.vectors.delete_asset(id)?;
                self.text.delete_asset(id)?;
                cleaned += 1;
            }
        }
        self.vectors.flush()?;
        self.text.commit()?;
        self.catalog.clear_pending()?;
        tracing::info!(cleaned, "removed what an interrupted run had half written");
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn meta(&self) -> &IndexMeta {
        &self.meta
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn vectors(&self) -> &dyn VectorBackend {
        self.vectors.as_ref()
    }

    pub fn text(&self) -> &TextIndex {
        &self.text
    }

    /// Refuses a query or write model that differs from the one that built the index.
    pub fn check_model(&self, model: &str) -> Result<()> {
        if self.meta.visual_model == model {
            Ok(())
        } else {
            Err(Error::ModelMismatch {
                dir: self.dir.clone(),
                index_model: self.meta.visual_model.clone(),
                query_model: model.to_string(),
            })
        }
    }

    /// Refuses a text query model that differs from the one that wrote the text vectors.
    /// `Ok(false)` when the index has no text vectors at all.
    pub fn check_text_model(&self, model: &str) -> Result<bool> {
        match &self.meta.text_model {
            None => Ok(false),
            Some(m) if m == model => Ok(true),
            Some(m) => Err(Error::TextModelMismatch {
                dir: self.dir.clone(),
                index_model: m.clone(),
                query_model: model.to_string(),
            }),
        }
    }

    /// Records a folder (or file) the index is built from (see [`Catalog::roots`]).
    pub fn add_root(&self, root: &str) -> Result<()> {
        if self.access != Access::Write {
            return Err(Error::Busy("index opened read-only".into()));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        self.catalog.add_root(root, now)
    }

    /// Applies a batch of changes: vectors and text first (made durable), the catalog last.
    pub fn apply(&self, ops: Vec<Op>) -> Result<()> {
        if self.access != Access::Write {
            return Err(Error::Busy("index opened read-only".into()));
        }
        if ops.is_empty() {
            return Ok(());
        }
        self.ensure_space()?;
        // A write that failed earlier in this process (the server keeps its index open across
        // jobs) can have left half-written content in the engines: remove it now, before this
        // batch's commit would publish it and clear the marks that name it.
        self.recover()?;
        // Final state of every asset this batch touches.
        let mut touched: BTreeMap<AssetId, Option<AssetRecord>> = BTreeMap::new();
        let mut new_segments: BTreeMap<AssetId, Vec<SegmentWrite>> = BTreeMap::new();
        let mut changes = CatalogChanges::default();
        // Current state, looking through this batch's own changes first.
        let record_of =
            |id: &AssetId, touched: &BTreeMap<AssetId, Option<AssetRecord>>| -> Result<Option<AssetRecord>> {
                match touched.get(id) {
                    Some(r) => Ok(r.clone()),
                    None => self.catalog.asset(id),
                }
            };
        let mut file_of: BTreeMap<String, Option<FileEntry>> = BTreeMap::new();
        let mut dropped_segments = Vec::new();
        for op in ops {
            let path = match &op {
                Op::Put { path, .. } | Op::Link { path, .. } | Op::Unlink { path } => path.clone(),
            };
            let previous = match file_of.get(&path) {
                Some(p) => p.clone(),
                None => self.catalog.file(&path)?,
            };
            let new_asset = match &op {
                Op::Put { file, .. } | Op::Link { file, .. } => Some(file.asset_id.clone()),
                Op::Unlink { .. } => None,
            };
            // Detach the path from the content it held before, if that changes.
            if let Some(prev) = previous
                .as_ref()
                .filter(|p| Some(&p.asset_id) != new_asset.as_ref())
                && let Some(mut rec) = record_of(&prev.asset_id, &touched)?
            {
                rec.asset.paths.retain(|p| p != &path);
                let keep = !rec.asset.paths.is_empty();
                if keep && rec.asset.path == path {
                    rec.asset.path = rec.asset.paths[0].clone();
                }
                if !keep {
                    dropped_segments.extend(rec.segments.iter().map(|s| s.id));
                }
                touched.insert(prev.asset_id.clone(), keep.then_some(rec));
            }
            match op {
                Op::Put {
                    path,
                    file,
                    record,
                    segments,
                } => {
                    let id = file.asset_id.clone();
                    let mut rec = match record_of(&id, &touched)? {
                        Some(existing) => existing,
                        None => AssetRecord {
                            segments: segments.iter().map(|s| s.segment.clone()).collect(),
                            ..*record
                        },
                    };
                    if !rec.asset.paths.contains(&path) {
                        rec.asset.paths.push(path.clone());
                        rec.asset.paths.sort();
                    }
                    touched.insert(id.clone(), Some(rec));
                    new_segments.insert(id, segments);
                    file_of.insert(path.clone(), Some(file.clone()));
                    changes.files.push((path, Some(file)));
                }
                Op::Link { path, file } => {
                    let id = file.asset_id.clone();
                    let Some(mut rec) = record_of(&id, &touched)? else {
                        return Err(Error::Catalog(format!("link of {path} to unknown asset {id}")));
                    };
                    if !rec.asset.paths.contains(&path) {
                        rec.asset.paths.push(path.clone());
                        rec.asset.paths.sort();
                    }
                    touched.insert(id, Some(rec));
                    file_of.insert(path.clone(), Some(file.clone()));
                    changes.files.push((path, Some(file)));
                }
                Op::Unlink { path } => {
                    file_of.insert(path.clone(), None);
                    changes.files.push((path, None));
                }
            }
        }

        let mut points = Vec::new();
        let mut docs = Vec::new();
        for (id, rec) in &touched {
            match rec {
                None => {
                    self.vectors.delete_asset(id)?;
                    self.text.delete_asset(id)?;
                }
                Some(rec) => {
                    let dirs = dirs_of(&rec.asset.paths);
                    if let Some(segments) = new_segments.remove(id) {
                        for s in segments {
                            if !s.vectors.is_empty() {
                                points.push(Point::of(
                                    &s.segment,
                                    PointPayload {
                                        kind: rec.asset.kind,
                                        dirs: dirs.clone(),
                                        date_ts: rec.date_ts(),
                                        duration_ms: rec.duration_ms(),
                                    },
                                    s.vectors,
                                ));
                            }
                            docs.push(TextDoc {
                                segment_id: s.segment.id,
                                asset_id: id.clone(),
                                kind: rec.asset.kind,
                                paths: rec.asset.paths.clone(),
                                dirs: dirs.clone(),
                                date_ts: rec.date_ts(),
                                duration_ms: rec.duration_ms(),
                                body: s.body,
                                words: s.words,
                                boxes: s.boxes,
                            });
                        }
                    } else {
                        self.vectors.set_dirs(id, &dirs)?;
                        for mut d in self.text.docs_of(id)? {
                            d.paths = rec.asset.paths.clone();
                            d.dirs = dirs.clone();
                            docs.push(d);
                        }
                    }
                }
            }
            changes.assets.push((id.clone(), rec.clone()));
        }
        // New content not yet in the catalog: if the process dies before the catalog commit and
        // the file is gone by the next run, these ids say what to clean up.
        let fresh: Vec<AssetId> = changes
            .assets
            .iter()
            .filter(|(id, rec)| rec.is_some() && matches!(self.catalog.asset(id), Ok(None)))
            .map(|(id, _)| id.clone())
            .collect();
        if !fresh.is_empty() {
            self.catalog.mark_pending(&fresh)?;
        }
        self.vectors.upsert(points)?;
        self.text.upsert(&docs)?;
        self.vectors.flush()?;
        self.text.commit()?;
        self.catalog.commit(&changes)?;
        // Thumbnails of removed assets go last: a crash before this leaves only orphan files.
        for id in dropped_segments {
            let _ = std::fs::remove_file(self.thumbnail_path(id));
        }
        Ok(())
    }

    /// Refuses to write when the index's disk has less than [`OpenOptions::min_free_mib`] MiB free: Qdrant's
    /// files are memory-mapped, and a write through a mapping past the end of a full disk kills the
    /// process with SIGBUS instead of returning an error.
    fn ensure_space(&self) -> Result<()> {
        ensure_space(&self.dir, self.options.min_free_mib)
    }

    /// Compares the three stores: every vector point and text document must belong to a segment
    /// of an asset in the catalog, every segment must have exactly one text document, and every
    /// path must name an asset. A crash between the vector/text commit and the catalog commit can
    /// leave points of content whose file then disappeared; [`Index::repair`] removes them.
    pub fn check(&self) -> Result<Consistency> {
        let mut c = Consistency::default();
        let mut segment_asset: BTreeMap<Uuid, AssetId> = BTreeMap::new();
        let assets = self.catalog.assets()?;
        c.assets = assets.len();
        for rec in &assets {
            for s in &rec.segments {
                segment_asset.insert(s.id, rec.asset.id.clone());
            }
        }
        c.segments = segment_asset.len();
        let known: std::collections::BTreeSet<&AssetId> = assets.iter().map(|r| &r.asset.id).collect();
        for (path, entry) in self.catalog.files_under("/")? {
            c.files += 1;
            if !known.contains(&entry.asset_id) {
                c.paths_without_asset.push(path);
            }
        }
        let mut orphans: std::collections::BTreeSet<AssetId> = Default::default();
        for (segment, asset) in self.vectors.points()? {
            c.points += 1;
            if !segment_asset.contains_key(&segment) {
                c.orphan_points.push(segment);
                orphans.extend(asset);
            }
        }
        let mut docs_of: BTreeMap<Uuid, usize> = BTreeMap::new();
        for (segment, asset) in self.text.all_segments()? {
            c.text_docs += 1;
            *docs_of.entry(segment).or_default() += 1;
            if !segment_asset.contains_key(&segment) {
                c.orphan_text_docs.push(segment);
                orphans.insert(asset);
            }
        }
        c.duplicate_text_docs = docs_of.iter().filter(|(_, n)| **n > 1).map(|(s, _)| *s).collect();
        c.segments_without_text = segment_asset
            .keys()
            .filter(|s| !docs_of.contains_key(s))
            .copied()
            .collect();
        c.orphan_assets = orphans.into_iter().collect();
        Ok(c)
    }

    /// Removes the vector points and text documents of assets the catalog does not know (what
    /// [`Index::check`] reports as orphans). Returns how many assets were cleaned.
    pub fn repair(&self) -> Result<usize> {
        if self.access != Access::Write {
            return Err(Error::Busy("index opened read-only".into()));
        }
        let c = self.check()?;
        for id in &c.orphan_assets {
            self.vectors.delete_asset(id)?;
            self.text.delete_asset(id)?;
        }
        self.vectors.flush()?;
        self.text.commit()?;
        Ok(c.orphan_assets.len())
    }

    /// Where the thumbnail of a segment is kept (JPEG), whether or not it exists.
    pub fn thumbnail_path(&self, segment: loupe_schemas::Uuid) -> PathBuf {
        let s = segment.simple().to_string();
        self.dir.join("thumbs").join(&s[..2]).join(format!("{s}.jpg"))
    }

    /// Builds the vector search structures (HNSW) for what was written.
    pub fn optimize(&self) -> Result<()> {
        self.vectors.optimize()
    }

    /// The asset record and the segment locator behind a segment id (from the text index's
    /// stored fields and the catalog).
    pub fn asset(&self, id: &AssetId) -> Result<Option<AssetRecord>> {
        self.catalog.asset(id)
    }
}

/// Writes `index.json` atomically (a temporary file, then a rename).
fn write_meta(dir: &Path, meta: &IndexMeta) -> Result<()> {
    let tmp = dir.join("index.json.tmp");
    let text = serde_json::to_string_pretty(meta).map_err(|e| Error::Catalog(e.to_string()))?;
    std::fs::write(&tmp, text).map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    std::fs::rename(&tmp, dir.join(META_FILE)).map_err(|e| Error::io("writing index.json", e))
}

/// The vector backend `index.json` names, with the settings given. An index is never silently
/// read from, or written to, a backend other than the one that holds its vectors.
fn open_vectors(
    dir: &Path,
    meta: &IndexMeta,
    options: &OpenOptions,
    create: bool,
) -> Result<Box<dyn VectorBackend>> {
    match (&meta.vectors, &options.qdrant) {
        (VectorsAt::Embedded, None) => Ok(Box::new(EdgeBackend::open(
            &dir.join("vectors"),
            meta.visual_dim,
            meta.text_dim,
        )?)),
        (VectorsAt::Embedded, Some(q)) => Err(Error::VectorConfig(format!(
            "the index at {} keeps its vectors embedded (Qdrant Edge), but a Qdrant server ({}) was \
             given; to move them there run `loupe migrate --to {}`, or drop --qdrant-url / \
             LOUPE_QDRANT_URL / [qdrant] url to use the index as it is",
            dir.display(),
            q.display_url(),
            q.display_url()
        ))),
        (VectorsAt::Qdrant { collection, url }, None) => Err(Error::VectorConfig(format!(
            "the index at {} keeps its vectors on a Qdrant server (collection '{collection}', created \
             at {url}); pass --qdrant-url (or LOUPE_QDRANT_URL, or [qdrant] url in the config file)",
            dir.display()
        ))),
        (VectorsAt::Qdrant { collection, .. }, Some(q)) => {
            if let Some(asked) = q.collection.as_deref().filter(|c| c != collection) {
                return Err(Error::VectorConfig(format!(
                    "the index at {} uses collection '{collection}', but the settings name '{asked}'; \
                     remove [qdrant] collection or set it to '{collection}'",
                    dir.display()
                )));
            }
            let mode = if create {
                vectors::OpenMode::New
            } else {
                vectors::OpenMode::Existing
            };
            Ok(Box::new(QdrantBackend::open(
                q,
                collection,
                &meta.collection_models(),
                mode,
            )?))
        }
    }
}

/// Union of the ancestor folders of every path, sorted.
pub fn dirs_of(paths: &[String]) -> Vec<String> {
    let mut dirs: Vec<String> = paths.iter().flat_map(|p| ancestor_dirs(p)).collect();
    dirs.sort();
    dirs.dedup();
    dirs
}
