//! Helpers for this crate's unit tests: a small index with fixed models, no model files.

use loupe_schemas::{Asset, AssetKind};
use loupe_store::{AssetRecord, FileEntry, Index, IndexModels, ModelSpec};
use std::path::Path;

/// An index in `dir` whose visual space has 3 values and text space 2.
pub(crate) fn open_index(dir: &Path) -> Index {
    let models = IndexModels {
        visual: ModelSpec {
            id: "fake-visual@0".into(),
            dim: 3,
        },
        text: Some(ModelSpec {
            id: "fake-text@0".into(),
            dim: 2,
        }),
    };
    Index::open_or_create(dir, &models).expect("open a test index")
}

/// A plain record of content at `path`.
pub(crate) fn asset_record(path: &str, file: &FileEntry, kind: AssetKind) -> AssetRecord {
    AssetRecord {
        asset: Asset {
            id: file.asset_id.clone(),
            kind,
            path: path.into(),
            paths: vec![path.into()],
            size: file.size,
            mtime: (file.mtime_ns / 1_000_000_000) as i64,
            width: None,
            height: None,
            duration_s: None,
            pages: None,
            captured_at: None,
            language: None,
        },
        captured_ts: None,
        segments: Vec::new(),
    }
}
