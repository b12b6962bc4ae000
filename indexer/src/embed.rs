//! Embed: the prepared items of a batch get their CLIP vectors ([`embed_all`], a batch of images
//! per ONNX run), near-identical consecutive shots are merged ([`merge_shots`]), thumbnails are
//! written, and each item becomes a [`SegmentWrite`] for the store.

use crate::plan::Candidate;
use crate::prepare::{Item, NewContent, Pixels};
use crate::{Error, Result};
use loupe_models::VisualEmbedder;
use loupe_schemas::{Locator, Segment};
use loupe_store::{AssetRecord, FileEntry, Index, SegmentWrite, Space};
use rayon::prelude::*;
use std::path::Path;

/// Consecutive shots whose keyframes are this similar become one segment...
const MERGE_COSINE: f32 = 0.95;
/// ...as long as the merged segment stays this short (seconds), so deep links stay useful.
const MERGE_MAX_SPAN: f64 = 60.0;

/// Quality of the thumbnails written next to the index.
const THUMB_QUALITY: u8 = 80;

/// New content, embedded: what [`loupe_store::Op::Put`] takes.
pub(crate) struct Built {
    pub file: FileEntry,
    pub record: AssetRecord,
    pub segments: Vec<SegmentWrite>,
}

/// Embeds every item of the new content in batches of `batch`, merges near-identical consecutive
/// shots, saves thumbnails, and returns what to write.
pub(crate) fn embed_all<'c>(
    index: &Index,
    model: &dyn VisualEmbedder,
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
    for group in wanted.chunks(batch.max(1)) {
        let pixels: Vec<ndarray::Array3<f32>> = group
            .par_iter()
            .map(|&(ci, ii)| match &content[ci].1.items[ii].pixels {
                Some(Pixels::Ready(a)) => a.clone(),
                Some(Pixels::Frame(f)) => model.prepare_image(&image::DynamicImage::ImageRgb8(f.clone())),
                Some(Pixels::Vector(_)) | None => ndarray::Array3::zeros((0, 0, 0)),
            })
            .collect();
        let out = model.embed_prepared(&pixels)?;
        for (&(ci, ii), v) in group.iter().zip(out) {
            if v.len() != model.dim() {
                return Err(Error::Model(loupe_models::Error::Ort(format!(
                    "model returned {} values, its manifest says {}",
                    v.len(),
                    model.dim()
                ))));
            }
            vectors[ci][ii] = Some(v);
        }
    }
    let mut built = Vec::with_capacity(content.len());
    for ((c, n), vecs) in content.into_iter().zip(vectors) {
        let segments = merge_shots(n.items.into_iter().zip(vecs).collect());
        let writes = segments
            .into_iter()
            .map(|(item, v)| segment_write(index, &n.file, item, v))
            .collect();
        built.push((
            c,
            Built {
                file: n.file,
                record: n.record,
                segments: writes,
            },
        ));
    }
    Ok(built)
}

/// Joins each shot to the one before it when their keyframes look alike (cosine of the unit
/// vectors at least [`MERGE_COSINE`]) and the joined span stays within [`MERGE_MAX_SPAN`]: the
/// first shot's keyframe and vector stand for both. Other items pass unchanged.
fn merge_shots(items: Vec<(Item, Option<Vec<f32>>)>) -> Vec<(Item, Option<Vec<f32>>)> {
    let mut segments: Vec<(Item, Option<Vec<f32>>)> = Vec::with_capacity(items.len());
    for (item, v) in items {
        if let (Some((prev, Some(pv))), Locator::Shot { t_end, .. }, Some(cv)) =
            (segments.last_mut(), &item.locator, &v)
            && let Locator::Shot {
                t_start,
                t_end: prev_end,
                ..
            } = &mut prev.locator
        {
            let span = t_end - *t_start;
            let cos: f32 = pv.iter().zip(cv).map(|(a, b)| a * b).sum();
            if cos >= MERGE_COSINE && span <= MERGE_MAX_SPAN {
                *prev_end = *t_end;
                continue;
            }
        }
        segments.push((item, v));
    }
    segments
}

/// One item as a segment to write (its thumbnail saved now).
fn segment_write(index: &Index, file: &FileEntry, item: Item, visual: Option<Vec<f32>>) -> SegmentWrite {
    let segment = Segment::new(file.asset_id.clone(), item.locator);
    if let Some(t) = &item.thumbnail {
        save_thumbnail(&index.thumbnail_path(segment.id), t);
    }
    let vectors = visual
        .map(|v| (Space::Visual, v))
        .into_iter()
        .chain(item.text_vector.map(|t| (Space::Text, t)))
        .collect();
    SegmentWrite {
        segment,
        vectors,
        body: item.body,
        words: item.words,
        boxes: item.boxes,
    }
}

/// Writes a JPEG thumbnail; failing to is not worth failing the file for.
pub(crate) fn save_thumbnail(path: &Path, img: &image::RgbImage) {
    if let Err(e) = loupe_media::save_jpeg(path, img, THUMB_QUALITY) {
        tracing::warn!("thumbnail {}: {e}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shot(t_start: f64, t_end: f64, v: &[f32]) -> (Item, Option<Vec<f32>>) {
        let locator = Locator::Shot {
            t_start,
            t_end,
            keyframe: t_start,
        };
        (Item::visual(locator, None, None), Some(v.to_vec()))
    }

    fn spans(items: &[(Item, Option<Vec<f32>>)]) -> Vec<(f64, f64)> {
        items
            .iter()
            .map(|(i, _)| match i.locator {
                Locator::Shot { t_start, t_end, .. } => (t_start, t_end),
                Locator::Span { t_start, t_end } => (t_start, t_end),
                _ => (-1.0, -1.0),
            })
            .collect()
    }

    #[test]
    fn alike_consecutive_shots_merge() {
        let a = [1.0, 0.0];
        let b = [0.0, 1.0];
        let merged = merge_shots(vec![
            shot(0.0, 2.0, &a),
            shot(2.0, 5.0, &a),
            shot(5.0, 6.0, &b),
            shot(6.0, 9.0, &a),
        ]);
        assert_eq!(spans(&merged), vec![(0.0, 5.0), (5.0, 6.0), (6.0, 9.0)]);
        // The first shot's keyframe and vector stand for the merged one.
        assert!(matches!(merged[0].0.locator, Locator::Shot { keyframe, .. } if keyframe == 0.0));
        assert_eq!(merged[0].1.as_deref(), Some(&a[..]));
    }

    #[test]
    fn merged_shots_stay_short() {
        let a = [1.0, 0.0];
        let merged = merge_shots(vec![
            shot(0.0, 30.0, &a),
            shot(30.0, 50.0, &a),
            shot(50.0, 70.0, &a),
        ]);
        // 0..50 is within a minute; 0..70 would not be.
        assert_eq!(spans(&merged), vec![(0.0, 50.0), (50.0, 70.0)]);
    }

    #[test]
    fn spans_and_items_without_vectors_never_merge() {
        let a = [1.0, 0.0];
        let span = |s: f64, e: f64| {
            let locator = Locator::Span { t_start: s, t_end: e };
            (Item::visual(locator, None, None), None)
        };
        let merged = merge_shots(vec![
            shot(0.0, 1.0, &a),
            span(0.0, 1.0),
            span(1.0, 2.0),
            shot(1.0, 2.0, &a),
            (
                Item::visual(
                    Locator::Shot {
                        t_start: 2.0,
                        t_end: 3.0,
                        keyframe: 2.0,
                    },
                    None,
                    None,
                ),
                None,
            ),
        ]);
        assert_eq!(merged.len(), 5);
    }
}
