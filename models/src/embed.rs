//! What the indexer and the query side need from a model: a vector for a text or an image, in a
//! named space with a known dimension. The real models ([`ClipModel`], [`TextEmbedder`]) implement
//! these traits, and so does [`crate::fake::FakeEmbedder`], so indexing and search logic can be
//! tested without any model installed.

use crate::{ClipModel, Result, TextEmbedder};
use image::DynamicImage;
use ndarray::Array3;

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
    /// An image made ready for [`VisualEmbedder::embed_prepared`] (CLIP: resize, crop, normalise).
    /// The indexer does this in parallel, then embeds a batch in one model run.
    fn prepare_image(&self, image: &DynamicImage) -> Array3<f32>;
    /// One unit vector per image that went through [`VisualEmbedder::prepare_image`].
    fn embed_prepared(&self, batch: &[Array3<f32>]) -> Result<Vec<Vec<f32>>>;
}

/// A text-only space (a sentence embedder): transcripts, page text and text queries.
pub trait SentenceEmbedder: Send + Sync {
    /// `name@fingerprint`, what an index records for its text space.
    fn id(&self) -> String;
    /// Output dimension.
    fn dim(&self) -> usize;
    /// One unit vector per text.
    fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
    /// One unit vector for a text of any length (a page, a transcript): the real embedder averages
    /// passages that fit its window. By default, the text as one passage.
    fn embed_long(&self, text: &str) -> Result<Vec<f32>> {
        let mut v = self.embed_texts(&[text])?;
        Ok(v.pop().unwrap_or_default())
    }
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

    fn prepare_image(&self, image: &DynamicImage) -> Array3<f32> {
        self.vision.preprocessor().apply(image)
    }

    fn embed_prepared(&self, batch: &[Array3<f32>]) -> Result<Vec<Vec<f32>>> {
        self.vision.embed_preprocessed(batch)
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

    fn embed_long(&self, text: &str) -> Result<Vec<f32>> {
        TextEmbedder::embed_long(self, text)
    }
}
