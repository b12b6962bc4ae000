//! [`ModelSet`]: the models one process keeps loaded, as one typed value.
//!
//! The `loupe` command decides which models to load (its settings, the index's record, what is
//! installed) and builds the set once; the indexer, the query side and the server take what they
//! need from it instead of assembling their own bundles. The query encoders are shared
//! (`Arc`), so a searcher can hold them while the set keeps serving index jobs.
//!
//! Not for: choosing models (the command's policy) or loading them implicitly.

use crate::embed::{SentenceEmbedder, VisualEmbedder};
use crate::{ClipModel, Ocr, TextEmbedder, Whisper};
use std::sync::Arc;

/// The loaded models: CLIP always; the sentence embedder, Whisper and OCR when installed and wanted.
pub struct ModelSet {
    /// The visual space (image and text towers).
    pub clip: Arc<ClipModel>,
    /// The text space; without it, text is searched by BM25 only and gets no text vectors.
    pub text: Option<Arc<TextEmbedder>>,
    /// Speech recognition for videos and recordings.
    pub whisper: Option<Whisper>,
    /// Text in scanned pages and photos.
    pub ocr: Option<Ocr>,
}

impl ModelSet {
    /// A set with just CLIP (and nothing for text, speech or OCR).
    pub fn clip_only(clip: ClipModel) -> Self {
        Self {
            clip: Arc::new(clip),
            text: None,
            whisper: None,
            ocr: None,
        }
    }

    /// The visual encoder, shareable (for a searcher).
    pub fn visual(&self) -> Arc<dyn VisualEmbedder> {
        self.clip.clone()
    }

    /// The sentence encoder, shareable (for a searcher), when the set has one.
    pub fn sentence(&self) -> Option<Arc<dyn SentenceEmbedder>> {
        self.text.clone().map(|t| t as Arc<dyn SentenceEmbedder>)
    }

    /// `name@fingerprint` of the speech model, or `none`.
    pub fn speech_id(&self) -> String {
        self.whisper
            .as_ref()
            .map_or_else(|| "none".to_string(), Whisper::id)
    }
}
