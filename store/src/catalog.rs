//! The asset catalog (redb): which path holds which content, and what each asset is.
//!
//! A path is marked done here only after its vectors and text are durable, so this table is the
//! resume point after a crash: anything not in it is (re)done on the next run.

use crate::{Error, Result};
use loupe_schemas::{Asset, AssetId, Segment, Uuid};
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::Path;

const FILES: TableDefinition<&str, &[u8]> = TableDefinition::new("files");
const ASSETS: TableDefinition<&str, &[u8]> = TableDefinition::new("assets");
/// Assets whose vectors and text are being written, recorded before the write and cleared by the
/// catalog commit that follows it: what a crash in between leaves to clean up.
const PENDING: TableDefinition<&str, ()> = TableDefinition::new("pending");
/// Folders (or single files) the index was built from, with the time they were first indexed.
const ROOTS: TableDefinition<&str, i64> = TableDefinition::new("roots");

/// What the catalog knows of one path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub asset_id: AssetId,
    pub size: u64,
    /// Modification time in nanoseconds since the epoch (to spot changes without hashing).
    pub mtime_ns: i128,
}

/// What the catalog knows of one asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetRecord {
    pub asset: Asset,
    /// Capture time in seconds since the epoch, when the file says.
    pub captured_ts: Option<i64>,
    /// The asset's segments (a photo has one; a video one per shot and per transcript span).
    #[serde(default)]
    pub segments: Vec<Segment>,
}

impl AssetRecord {
    pub fn date_ts(&self) -> i64 {
        self.asset.date_ts(self.captured_ts)
    }

    /// One of this asset's segments by id.
    /// Length in milliseconds for videos and recordings; -1 for everything else.
    pub fn duration_ms(&self) -> i64 {
        self.asset
            .duration_s
            .filter(|d| d.is_finite() && *d >= 0.0)
            .map_or(-1, |d| (d * 1000.0).round() as i64)
    }

    pub fn segment(&self, id: Uuid) -> Option<&Segment> {
        self.segments.iter().find(|s| s.id == id)
    }
}

fn cerr(e: impl std::fmt::Display) -> Error {
    Error::Catalog(e.to_string())
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::Catalog(format!("corrupt record: {e}")))
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(cerr)
}

pub struct Catalog {
    db: Database,
}

impl Catalog {
    pub fn open(path: &Path) -> Result<Self> {
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => {
                Error::Busy(format!("{} is open in another process", path.display()))
            }
            e => Error::Catalog(format!("{}: {e}", path.display())),
        })?;
        let txn = db.begin_write().map_err(cerr)?;
        txn.open_table(FILES).map_err(cerr)?;
        txn.open_table(ASSETS).map_err(cerr)?;
        txn.open_table(ROOTS).map_err(cerr)?;
        txn.open_table(PENDING).map_err(cerr)?;
        txn.commit().map_err(cerr)?;
        Ok(Self { db })
    }

    pub fn file(&self, path: &str) -> Result<Option<FileEntry>> {
        let r = self.db.begin_read().map_err(cerr)?;
        let t = r.open_table(FILES).map_err(cerr)?;
        t.get(path).map_err(cerr)?.map(|v| decode(v.value())).transpose()
    }

    pub fn asset(&self, id: &AssetId) -> Result<Option<AssetRecord>> {
        let r = self.db.begin_read().map_err(cerr)?;
        let t = r.open_table(ASSETS).map_err(cerr)?;
        t.get(id.as_str())
            .map_err(cerr)?
            .map(|v| decode(v.value()))
            .transpose()
    }

    /// Every path under `root` (a folder or a single file), sorted.
    pub fn files_under(&self, root: &str) -> Result<Vec<(String, FileEntry)>> {
        let r = self.db.begin_read().map_err(cerr)?;
        let t = r.open_table(FILES).map_err(cerr)?;
        let dir_prefix = format!("{}/", root.trim_end_matches('/'));
        let mut out = Vec::new();
        for item in t.range(root..).map_err(cerr)? {
            let (k, v) = item.map_err(cerr)?;
            let key = k.value();
            if key == root || key.starts_with(&dir_prefix) {
                out.push((key.to_string(), decode(v.value())?));
            } else if !key.starts_with(root) {
                break;
            }
        }
        Ok(out)
    }

    /// Records a folder (or file) the index is built from; the server serves media only from these.
    pub fn add_root(&self, root: &str, now: i64) -> Result<()> {
        let txn = self.db.begin_write().map_err(cerr)?;
        {
            let mut t = txn.open_table(ROOTS).map_err(cerr)?;
            if t.get(root).map_err(cerr)?.is_none() {
                t.insert(root, now).map_err(cerr)?;
            }
        }
        txn.commit().map_err(cerr)
    }

    /// The folders (or files) the index was built from, sorted.
    pub fn roots(&self) -> Result<Vec<String>> {
        let r = self.db.begin_read().map_err(cerr)?;
        let t = r.open_table(ROOTS).map_err(cerr)?;
        let mut out = Vec::new();
        for item in t.iter().map_err(cerr)? {
            let (k, _) = item.map_err(cerr)?;
            out.push(k.value().to_string());
        }
        Ok(out)
    }

    pub fn counts(&self) -> Result<(u64, u64)> {
        let r = self.db.begin_read().map_err(cerr)?;
        let files = r.open_table(FILES).map_err(cerr)?.len().map_err(cerr)?;
        let assets = r.open_table(ASSETS).map_err(cerr)?.len().map_err(cerr)?;
        Ok((files, assets))
    }

    /// Every asset, in id order.
    pub fn assets(&self) -> Result<Vec<AssetRecord>> {
        let r = self.db.begin_read().map_err(cerr)?;
        let t = r.open_table(ASSETS).map_err(cerr)?;
        let mut out = Vec::new();
        for item in t.iter().map_err(cerr)? {
            let (_, v) = item.map_err(cerr)?;
            out.push(decode(v.value())?);
        }
        Ok(out)
    }

    /// Records (durably) that the vectors and text of these assets are about to be written.
    pub fn mark_pending(&self, ids: &[AssetId]) -> Result<()> {
        let txn = self.db.begin_write().map_err(cerr)?;
        {
            let mut t = txn.open_table(PENDING).map_err(cerr)?;
            for id in ids {
                t.insert(id.as_str(), ()).map_err(cerr)?;
            }
        }
        txn.commit().map_err(cerr)
    }

    /// Assets a crashed run was writing (see [`Catalog::mark_pending`]).
    pub fn pending(&self) -> Result<Vec<AssetId>> {
        let r = self.db.begin_read().map_err(cerr)?;
        let t = r.open_table(PENDING).map_err(cerr)?;
        let mut out = Vec::new();
        for item in t.iter().map_err(cerr)? {
            let (k, _) = item.map_err(cerr)?;
            out.push(
                k.value()
                    .parse()
                    .map_err(|_| Error::Catalog("bad pending asset id".into()))?,
            );
        }
        Ok(out)
    }

    /// Forgets the pending marks (after a crashed run's leftovers were cleaned up).
    pub fn clear_pending(&self) -> Result<()> {
        let txn = self.db.begin_write().map_err(cerr)?;
        txn.open_table(PENDING)
            .map_err(cerr)?
            .retain(|_, _| false)
            .map_err(cerr)?;
        txn.commit().map_err(cerr)
    }

    /// Applies a set of changes in one transaction (and clears the pending marks it settles).
    pub fn commit(&self, changes: &CatalogChanges) -> Result<()> {
        let txn = self.db.begin_write().map_err(cerr)?;
        {
            let mut files = txn.open_table(FILES).map_err(cerr)?;
            for (path, entry) in &changes.files {
                match entry {
                    Some(e) => {
                        files.insert(path.as_str(), encode(e)?.as_slice()).map_err(cerr)?;
                    }
                    None => {
                        files.remove(path.as_str()).map_err(cerr)?;
                    }
                }
            }
            let mut assets = txn.open_table(ASSETS).map_err(cerr)?;
            for (id, rec) in &changes.assets {
                match rec {
                    Some(r) => {
                        assets.insert(id.as_str(), encode(r)?.as_slice()).map_err(cerr)?;
                    }
                    None => {
                        assets.remove(id.as_str()).map_err(cerr)?;
                    }
                }
            }
            txn.open_table(PENDING)
                .map_err(cerr)?
                .retain(|_, _| false)
                .map_err(cerr)?;
        }
        txn.commit().map_err(cerr)
    }
}

/// Pending catalog changes: `None` removes.
#[derive(Debug, Default)]
pub struct CatalogChanges {
    pub files: Vec<(String, Option<FileEntry>)>,
    pub assets: Vec<(AssetId, Option<AssetRecord>)>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use loupe_schemas::AssetKind;

    #[test]
    fn files_under_is_prefix_exact() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Catalog::open(&tmp.path().join("c.redb")).unwrap();
        let id = AssetId::from_hash(&[7; 32]);
        let e = FileEntry {
            asset_id: id.clone(),
            size: 1,
            mtime_ns: 2,
        };
        let mut ch = CatalogChanges::default();
        for p in ["/a/x.jpg", "/a/b/y.jpg", "/ab/z.jpg", "/a"] {
            ch.files.push((p.into(), Some(e.clone())));
        }
        let asset = Asset {
            id: id.clone(),
            kind: AssetKind::Image,
            path: "/a/x.jpg".into(),
            paths: vec!["/a/x.jpg".into()],
            size: 1,
            mtime: 0,
            width: None,
            height: None,
            duration_s: None,
            pages: None,
            captured_at: None,
            language: None,
        };
        ch.assets.push((
            id.clone(),
            Some(AssetRecord {
                asset,
                captured_ts: None,
                segments: vec![],
            }),
        ));
        c.commit(&ch).unwrap();
        let under: Vec<String> = c.files_under("/a").unwrap().into_iter().map(|(p, _)| p).collect();
        assert_eq!(under, vec!["/a", "/a/b/y.jpg", "/a/x.jpg"]);
        assert_eq!(c.file("/ab/z.jpg").unwrap().unwrap(), e);
        assert!(c.asset(&id).unwrap().is_some());
        assert_eq!(c.counts().unwrap(), (4, 1));
    }
}
