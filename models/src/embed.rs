//! What the query side (and tests) need from a model: a vector for a text or an image, in a named
//! space with a known dimension. The real models ([`ClipModel`], [`TextEmbedder`]) implement these
//! traits, and so does [`crate::fake::FakeEmbedder`], so search logic can be tested without any
//! model installed.

use crate::{ClipModel, Result, TextEmbedder};
use image::DynamicImage;

/// A joint image-text space (CLIP): a text query and a picture land in the same space.
pub trait VisualEmbedder: Send + Sync {
    /// `name@fingerprint`, what an index records for its visual space.
    fn id(&self) -> String;
    /// Output dimension.
    fn dim(&self) -> usize;
    /// One unit vector per text (the text tower).
    fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
    /// One unit vector per image (the image tower).
    fn embed_images(&self, images: &[DynamicImage]) -> Result<Vec<Vec<f32>>>;
}

/// A text-only space (a sentence embedder): transcripts, page text and text queries.
pub trait SentenceEmbedder: Send + Sync {
    /// `name@fingerprint`, what an index records for its text space.
    fn id(&self) -> String;
    /// Output dimension.
    fn dim(&self) -> usize;
    /// One unit vector per text.
    fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
}

impl VisualEmbedder for ClipModel {
    fn id(&self) -> String {
        ClipModel::id(self)
    }

    fn dim(&self) -> usize {
        self.manifest.dim
    }

    fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.text.embed(texts)
    }

    fn embed_images(&self, images: &[DynamicImage]) -> Result<Vec<Vec<f32>>> {
        self.vision.embed(images)
    }
}

impl SentenceEmbedder for TextEmbedder {
    fn id(&self) -> String {
        TextEmbedder::id(self)
    }

    fn dim(&self) -> usize {
        TextEmbedder::dim(self)
    }

    fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed(texts)
    }
}
