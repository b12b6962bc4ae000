//! Files and thumbnails: which file of an asset may be served, and the small JPEGs the grid shows.

use crate::AppState;
use crate::error::ApiError;
use loupe_schemas::{Asset, AssetKind};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Mutex;

/// Long side of a thumbnail made from a photo.
pub const THUMB_SIDE: u32 = 320;
/// Quality of the thumbnails served.
const THUMB_QUALITY: u8 = 82;

/// The file to serve for an asset: the first of its paths that still exists, resolves (symbolic
/// links followed) to a place inside the index's roots, and still has the indexed size.
pub fn resolve_file(state: &AppState, asset: &Asset) -> Result<PathBuf, ApiError> {
    let mut outside = false;
    for p in &asset.paths {
        let Ok(canonical) = std::path::Path::new(p).canonicalize() else {
            continue;
        };
        if !state.inside_roots(&canonical) {
            outside = true;
            continue;
        }
        match std::fs::metadata(&canonical) {
            Ok(m) if m.is_file() && m.len() == asset.size => return Ok(canonical),
            _ => continue,
        }
    }
    if outside {
        Err(ApiError::forbidden(format!(
            "the file of asset {} resolves to a place outside the indexed folders",
            asset.id
        )))
    } else {
        Err(ApiError::not_found(format!(
            "the file of asset {} is gone or changed since it was indexed; index its folder again",
            asset.id
        )))
    }
}

/// JPEGs by asset id, and the ids in the order they came.
type Thumbs = (HashMap<String, Vec<u8>>, VecDeque<String>);

/// Thumbnails made from photos, kept in memory (the oldest go first).
pub struct ThumbCache {
    cap: usize,
    inner: Mutex<Thumbs>,
}

impl ThumbCache {
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.inner.lock().ok()?.0.get(key).cloned()
    }

    pub fn put(&self, key: String, jpeg: Vec<u8>) {
        let Ok(mut g) = self.inner.lock() else { return };
        if g.0.insert(key.clone(), jpeg).is_none() {
            g.1.push_back(key);
        }
        while g.1.len() > self.cap {
            if let Some(old) = g.1.pop_front() {
                g.0.remove(&old);
            }
        }
    }
}

/// A JPEG thumbnail of a photo file (decoded within the indexer's limits, EXIF orientation applied).
pub fn photo_thumbnail(path: &std::path::Path) -> Result<Vec<u8>, ApiError> {
    let bytes = std::fs::read(path).map_err(|e| ApiError::internal(format!("reading the file: {e}")))?;
    let decoded = loupe_media::decode_image(&bytes, &loupe_media::DecodeLimits::default()).map_err(|e| {
        ApiError::new(loupe_schemas::ErrorCode::BadImage, e)
            .with_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY)
    })?;
    let small = loupe_media::thumbnail(&decoded.image, THUMB_SIDE);
    loupe_media::encode_jpeg(&small, THUMB_QUALITY)
        .map_err(|e| ApiError::internal(format!("encoding the thumbnail: {e}")))
}

/// Whether an asset kind can have a picture at all.
pub fn has_picture(kind: AssetKind) -> bool {
    kind != AssetKind::Audio
}
