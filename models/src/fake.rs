//! A deterministic stand-in for the real models, for tests that need vectors but not meaning.
//!
//! [`FakeEmbedder`] implements [`VisualEmbedder`] and [`SentenceEmbedder`]. A text becomes the
//! normalised sum of one axis per word: colour words ("red", "green", ...) own the first axes, every
//! other word is hashed (FNV-1a) onto the rest. An image becomes the axis of the palette colour
//! nearest to its mean pixel. So a "red" query lands exactly on a red image, "budget" finds a text
//! that says "budget", and the same input always gives the same vector, on any machine.
//!
//! Not for: anything but tests and examples (it knows nothing of language or pictures).

use crate::Result;
use crate::embed::{SentenceEmbedder, VisualEmbedder};
use image::DynamicImage;

/// The colours the fake sees, with their RGB: each owns one axis.
pub const PALETTE: [(&str, [u8; 3]); 8] = [
    ("red", [220, 30, 30]),
    ("green", [30, 180, 40]),
    ("blue", [30, 40, 220]),
    ("yellow", [235, 220, 40]),
    ("black", [10, 10, 10]),
    ("white", [245, 245, 245]),
    ("orange", [240, 140, 20]),
    ("purple", [130, 40, 170]),
];

/// A model-free embedder (see the module documentation).
#[derive(Debug, Clone)]
pub struct FakeEmbedder {
    name: String,
    dim: usize,
}

impl FakeEmbedder {
    /// Smallest dimension: the palette axes plus room for hashed words.
    pub const MIN_DIM: usize = PALETTE.len() + 8;

    /// A fake named `name` (its id is `name@fake`) with `dim` axes (at least [`Self::MIN_DIM`]).
    pub fn new(name: &str, dim: usize) -> Self {
        Self {
            name: name.to_string(),
            dim: dim.max(Self::MIN_DIM),
        }
    }

    /// The axis of a lower-case word.
    fn axis(&self, word: &str) -> usize {
        match PALETTE.iter().position(|(c, _)| *c == word) {
            Some(i) => i,
            None => {
                let h = word.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
                });
                PALETTE.len() + (h % (self.dim - PALETTE.len()) as u64) as usize
            }
        }
    }

    /// The vector of one text (all zeros when it has no word).
    pub fn text_vector(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0f32; self.dim];
        for w in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            v[self.axis(&w.to_lowercase())] += 1.0;
        }
        crate::clip::l2_normalize(&mut v);
        v
    }

    /// The vector of one image: the axis of the palette colour nearest its mean pixel.
    pub fn image_vector(&self, image: &DynamicImage) -> Vec<f32> {
        self.colour_vector(mean_rgb(image))
    }

    /// The axis of the palette colour nearest `mean`.
    fn colour_vector(&self, mean: [i64; 3]) -> Vec<f32> {
        let nearest = PALETTE
            .iter()
            .enumerate()
            .min_by_key(|(_, (_, c))| {
                c.iter()
                    .zip(mean)
                    .map(|(a, b)| (i64::from(*a) - b).pow(2))
                    .sum::<i64>()
            })
            .map_or(0, |(i, _)| i);
        let mut v = vec![0f32; self.dim];
        v[nearest] = 1.0;
        v
    }
}

/// The mean pixel of an image, per channel.
fn mean_rgb(image: &DynamicImage) -> [i64; 3] {
    let rgb = image.to_rgb8();
    let n = u64::from(rgb.width()) * u64::from(rgb.height());
    let mut sum = [0u64; 3];
    for p in rgb.pixels() {
        for (s, c) in sum.iter_mut().zip(p.0) {
            *s += u64::from(c);
        }
    }
    sum.map(|s| (s / n.max(1)) as i64)
}

impl VisualEmbedder for FakeEmbedder {
    fn id(&self) -> String {
        format!("{}@fake", self.name)
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        Ok(texts.iter().map(|t| self.text_vector(t)).collect())
    }

    fn embed_images(&self, images: &[DynamicImage]) -> Result<Vec<Vec<f32>>> {
        Ok(images.iter().map(|i| self.image_vector(i)).collect())
    }

    /// The fake's "pixels": the mean colour, as a 3x1x1 array.
    fn prepare_image(&self, image: &DynamicImage) -> ndarray::Array3<f32> {
        let m = mean_rgb(image);
        ndarray::Array3::from_shape_fn((3, 1, 1), |(c, _, _)| m[c] as f32)
    }

    fn embed_prepared(&self, batch: &[ndarray::Array3<f32>]) -> Result<Vec<Vec<f32>>> {
        batch
            .iter()
            .map(|a| match a.as_slice() {
                Some(&[r, g, b]) => Ok(self.colour_vector([r as i64, g as i64, b as i64])),
                _ => Err(crate::Error::Ort(format!(
                    "the fake embeds what its prepare_image gave, not a {:?} array",
                    a.shape()
                ))),
            })
            .collect()
    }
}

impl SentenceEmbedder for FakeEmbedder {
    fn id(&self) -> String {
        format!("{}@fake", self.name)
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        Ok(texts.iter().map(|t| self.text_vector(t)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn a_colour_word_finds_an_image_of_that_colour() {
        let f = FakeEmbedder::new("fake-clip", 32);
        let red = DynamicImage::ImageRgb8(RgbImage::from_pixel(8, 8, Rgb([200, 20, 25])));
        let blue = DynamicImage::ImageRgb8(RgbImage::from_pixel(8, 8, Rgb([10, 30, 200])));
        let imgs = VisualEmbedder::embed_images(&f, &[red, blue]).unwrap();
        let q = VisualEmbedder::embed_texts(&f, &["a RED car"]).unwrap().remove(0);
        assert!(dot(&q, &imgs[0]) > 0.5);
        assert_eq!(dot(&q, &imgs[1]), 0.0);
    }

    #[test]
    fn vectors_are_unit_and_deterministic() {
        let f = FakeEmbedder::new("fake-text", 16);
        let a = f.text_vector("the budget for next year");
        assert_eq!(a, f.text_vector("the budget for next year"));
        assert!((dot(&a, &a) - 1.0).abs() < 1e-5);
        assert_eq!(a.len(), 16);
        assert!(f.text_vector("  ").iter().all(|x| *x == 0.0));
        assert_eq!(SentenceEmbedder::id(&f), "fake-text@fake");
        assert_eq!(
            FakeEmbedder::new("x", 1).text_vector("a").len(),
            FakeEmbedder::MIN_DIM
        );
    }
}
