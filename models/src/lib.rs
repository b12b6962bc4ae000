//! loupe-models: the models Loupe runs, and the folder they live in.
//!
//! - [`Runtime`]: the one ONNX Runtime environment of a process, loaded from a shared library
//!   (`ort` with `load-dynamic`; the library comes from the `onnxruntime` wheel, never downloaded at build time).
//! - [`ModelStore`]: the model folder. Every model is a sub-folder with a `loupe-model.json` manifest
//!   (name, source, licence, sha256 of each file, output dimension); `verify` re-hashes the files.
//! - [`clip`]: CLIP image and text towers in the layout of Qdrant's `clip-ViT-B-32-vision/-text` ONNX
//!   repositories, with CLIP's own preprocessing (shortest-side resize, centre crop, mean/std) and BPE
//!   tokenizer (77 tokens), batched, L2-normalised output.
//! - [`text`]: the dense text space (MiniLM sentence embedder through ONNX Runtime) for transcripts,
//!   OCR text and text queries.
//! - [`whisper`]: speech recognition with Whisper through whisper.cpp, with word times.
//! - [`ocr`]: reading text in images (PP-OCR det/cls/rec through ONNX Runtime): lines and words with
//!   boxes, in reading order, pages turned upright.
//! - [`embed`]: the traits the query side encodes through ([`VisualEmbedder`], [`SentenceEmbedder`]),
//!   implemented by the real models and by [`fake::FakeEmbedder`] (deterministic, model-free, for tests).
//! - [`ModelSet`]: the loaded models of a process as one value, built once by the `loupe` command.
//! - [`pull`]: `loupe models pull`: fetch from pinned Hugging Face repositories (sha256-checked) or install
//!   from a local folder for air-gapped sites.
//!
//! Not for: deciding which model an index uses (the store records that) or fetching anything implicitly.
//! Nothing here touches the network unless [`pull::pull_http`] is called.

pub mod clip;
pub mod embed;
pub mod fake;
pub mod ocr;
pub mod pull;
mod runtime;
mod set;
mod store;
pub mod text;
pub mod whisper;

pub use clip::{ClipImageEncoder, ClipModel, ClipTextEncoder, ClipTokenizer, Preprocessor};
pub use embed::{SentenceEmbedder, VisualEmbedder};
pub use ocr::Ocr;
pub use runtime::Runtime;
pub use set::ModelSet;
pub use store::{MANIFEST_FILE, ModelStore, read_manifest, sha256_file, write_manifest};
pub use text::TextEmbedder;
pub use whisper::Whisper;

use std::path::PathBuf;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("ONNX Runtime library not found: {0}")]
    RuntimeMissing(String),
    #[error("ONNX Runtime: {0}")]
    Ort(String),
    #[error("model '{name}' is not installed in {dir} (installed: {installed}); {hint}")]
    ModelMissing {
        name: String,
        dir: PathBuf,
        installed: String,
        hint: String,
    },
    #[error("model folder {path}: {reason}")]
    BadModel { path: PathBuf, reason: String },
    #[error("tokenizer {path}: {reason}")]
    Tokenizer { path: PathBuf, reason: String },
    #[error("checksum mismatch for {path}: expected sha256 {expected}, got {actual}")]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("speech recognition: {0}")]
    Speech(String),
    #[error("download {url}: {reason}")]
    Download { url: String, reason: String },
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
}

impl<T> From<ort::Error<T>> for Error {
    fn from(e: ort::Error<T>) -> Self {
        Self::Ort(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
