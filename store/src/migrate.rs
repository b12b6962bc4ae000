//! `loupe migrate`: copies an index's vectors from one backend to the other (embedded Qdrant Edge
//! to a Qdrant server, or back), in batches, resumably, and verifies the copy before switching.
//!
//! Protocol: the source stays the index's vectors until the very end. Points are copied in id
//! order; after each batch lands (the server's `wait`, or an Edge flush), `migrate.json` records
//! where the next batch starts, so a killed run resumes there (the last batch may be copied twice:
//! upserts by id make that harmless). When every point is copied, counts and a sample of vectors
//! and payloads are compared; only then does `index.json` name the new backend, and the old copy
//! (the embedded shard, or the server collection) is removed. The catalog and the text index never
//! move.

use crate::vectors::{EdgeBackend, Point, QdrantBackend, QdrantConfig, VectorBackend};
use crate::{Error, Index, META_FILE, Result, VectorsAt, default_collection_name, write_meta};
use loupe_schemas::Uuid;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Where `loupe migrate` copies the vectors to.
#[derive(Debug, Clone)]
pub enum MigrateTarget {
    /// Qdrant Edge in the index folder.
    Embedded,
    /// A Qdrant server (collection: the config's, else the index's default name).
    Qdrant(Box<QdrantConfig>),
}

/// What a migration did.
#[derive(Debug, Clone, Serialize)]
pub struct MigrateReport {
    pub from: String,
    pub to: String,
    /// Points in the index.
    pub points: usize,
    /// Points copied by this run (less than `points` when it resumed).
    pub copied: usize,
    /// Whether this run picked up where a killed one stopped.
    pub resumed: bool,
    /// Points whose vectors and payload were compared after the copy.
    pub verified: usize,
}

const CHECKPOINT: &str = "migrate.json";
const STAGING: &str = "vectors.migrating";
/// Points compared after the copy.
const SAMPLE: usize = 128;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Checkpoint {
    /// `embedded` or `qdrant:<collection>`.
    to: String,
    /// Where the next batch starts; `None` when every point is copied.
    next: Option<Uuid>,
    done: bool,
    /// Points in the index when the copy started; another count means the index changed.
    source_points: usize,
}

fn read_checkpoint(dir: &Path) -> Option<Checkpoint> {
    serde_json::from_str(&std::fs::read_to_string(dir.join(CHECKPOINT)).ok()?).ok()
}

fn write_checkpoint(dir: &Path, c: &Checkpoint) -> Result<()> {
    let tmp = dir.join("migrate.json.tmp");
    let text = serde_json::to_string(c).map_err(|e| Error::Catalog(e.to_string()))?;
    std::fs::write(&tmp, text).map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    std::fs::rename(&tmp, dir.join(CHECKPOINT)).map_err(|e| Error::io("writing migrate.json", e))
}

/// Vectors equal up to float noise (Qdrant normalises cosine vectors on write, on both backends).
fn same_vectors(a: &Point, b: &Point) -> bool {
    a.vectors.len() == b.vectors.len()
        && a.vectors.iter().all(|(space, va)| {
            b.vectors.iter().any(|(s, vb)| {
                s == space && va.len() == vb.len() && va.iter().zip(vb).all(|(x, y)| (x - y).abs() <= 1e-4)
            })
        })
}

impl Index {
    /// Copies this index's vectors to `target` and makes it the index's vector store (see the
    /// module doc). `progress(copied_so_far, total)` is called after each batch. The index must
    /// be open for writing, on its current backend.
    pub fn migrate(
        self,
        target: MigrateTarget,
        batch: usize,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<MigrateReport> {
        if self.access != crate::Access::Write {
            return Err(Error::Busy("index opened read-only".into()));
        }
        let dir = self.dir.clone();
        let models = self.meta.collection_models();
        let (to_key, new_at) = match (&self.meta.vectors, &target) {
            (VectorsAt::Embedded, MigrateTarget::Embedded) => {
                return Err(Error::VectorConfig(format!(
                    "the index at {} already keeps its vectors embedded",
                    dir.display()
                )));
            }
            (VectorsAt::Qdrant { collection, .. }, MigrateTarget::Qdrant(q))
                if q.collection.as_deref().unwrap_or(collection) == collection =>
            {
                return Err(Error::VectorConfig(format!(
                    "the index at {} already keeps its vectors in collection '{collection}'",
                    dir.display()
                )));
            }
            (_, MigrateTarget::Embedded) => ("embedded".to_string(), VectorsAt::Embedded),
            (_, MigrateTarget::Qdrant(q)) => {
                let collection = q
                    .collection
                    .clone()
                    .unwrap_or_else(|| default_collection_name(&dir));
                (
                    format!("qdrant:{collection}"),
                    VectorsAt::Qdrant {
                        collection,
                        url: q.display_url(),
                    },
                )
            }
        };
        let src = self.vectors();
        let total = src.count()?;
        // A checkpoint for this target, unless the index changed since it was written (then the
        // copy starts over: points below the cursor may have changed).
        let checkpoint = read_checkpoint(&dir).filter(|c| c.to == to_key);
        let stale = checkpoint.as_ref().is_some_and(|c| c.source_points != total);
        let staging = dir.join(STAGING);
        let vectors_dir = dir.join("vectors");
        // A run killed after moving the embedded copy into place, before index.json said so.
        let in_place = checkpoint.as_ref().is_some_and(|c| c.done)
            && !stale
            && new_at == VectorsAt::Embedded
            && !staging.exists()
            && vectors_dir.join("segments").is_dir();
        let dst_dir = if in_place { &vectors_dir } else { &staging };
        let open_dst = || -> Result<Box<dyn VectorBackend>> {
            Ok(match (&target, &new_at) {
                (MigrateTarget::Qdrant(q), VectorsAt::Qdrant { collection, .. }) => Box::new(
                    QdrantBackend::open(q, collection, &models, crate::vectors::OpenMode::Migration)?,
                ),
                _ => Box::new(EdgeBackend::open(
                    dst_dir,
                    self.meta.visual_dim,
                    self.meta.text_dim,
                )?),
            })
        };
        // Removes what a run copied to the target (it was made for this migration).
        let discard = |dst: Box<dyn VectorBackend>| -> Result<()> {
            drop(dst);
            let _ = std::fs::remove_file(dir.join(CHECKPOINT));
            match (&target, &new_at) {
                (MigrateTarget::Qdrant(q), VectorsAt::Qdrant { collection, .. }) => {
                    QdrantBackend::drop_collection(q, collection)
                }
                _ if dst_dir.exists() => std::fs::remove_dir_all(dst_dir)
                    .map_err(|e| Error::io(format!("removing {}", dst_dir.display()), e)),
                _ => Ok(()),
            }
        };
        let mut dst = open_dst()?;
        let checkpoint = if stale {
            tracing::warn!("the index changed since the interrupted migration; starting over");
            discard(dst)?;
            dst = open_dst()?;
            None
        } else {
            checkpoint
        };
        let resumed = checkpoint.is_some();
        if !resumed {
            let there = dst.count()?;
            if there > 0 {
                if new_at == VectorsAt::Embedded {
                    // A staging folder left by a run aimed elsewhere.
                    discard(dst)?;
                    dst = open_dst()?;
                } else {
                    return Err(Error::VectorConfig(format!(
                        "{} already holds {there} points; migrate into an empty collection (set \
                         [qdrant] collection to a new name) or delete it first",
                        dst.location()
                    )));
                }
            }
        }
        let mut state = checkpoint.unwrap_or(Checkpoint {
            to: to_key.clone(),
            next: None,
            done: false,
            source_points: total,
        });
        let mut copied = 0;
        if !state.done {
            // `next: None` on a fresh run means "from the start".
            let mut offset = state.next;
            loop {
                let page = src.scroll(offset, batch.max(1), true)?;
                if let Some(id) = page.unreadable.first() {
                    return Err(Error::Vector(format!(
                        "{} point(s) of the index have no valid Loupe payload (point {id}); run \
                         `loupe status --repair`, then migrate again",
                        page.unreadable.len()
                    )));
                }
                copied += page.points.len();
                dst.upsert(page.points)?;
                dst.flush()?;
                state.next = page.next;
                state.done = page.next.is_none();
                write_checkpoint(&dir, &state)?;
                progress(copied, total);
                match page.next {
                    Some(n) => offset = Some(n),
                    None => break,
                }
            }
        }
        let verified = match verify(src, dst.as_ref(), total) {
            Ok(n) => n,
            Err(e) => {
                // What was copied cannot be trusted: the next run starts over.
                discard(dst)?;
                return Err(e);
            }
        };
        let report = MigrateReport {
            from: src.location().to_string(),
            to: dst.location().to_string(),
            points: total,
            copied,
            resumed,
            verified,
        };
        // Switch: close both stores, then make the new one the index's.
        let old_at = self.meta.vectors.clone();
        let old_server = self.options.qdrant.clone();
        let mut meta = self.meta.clone();
        meta.vectors = new_at;
        drop(dst);
        drop(self);
        if meta.vectors == VectorsAt::Embedded && !in_place {
            if vectors_dir.exists() {
                std::fs::remove_dir_all(&vectors_dir)
                    .map_err(|e| Error::io(format!("removing {}", vectors_dir.display()), e))?;
            }
            std::fs::rename(&staging, &vectors_dir)
                .map_err(|e| Error::io(format!("moving {} into place", staging.display()), e))?;
        }
        write_meta(&dir, &meta)?;
        let _ = std::fs::remove_file(dir.join(CHECKPOINT));
        match (&old_at, old_server) {
            (VectorsAt::Embedded, _) => {
                // The verified copy is on the server now; the embedded shard is no longer the index's.
                let _ = std::fs::remove_dir_all(&vectors_dir);
            }
            (VectorsAt::Qdrant { collection, .. }, Some(q)) => {
                // The verified copy is embedded now: the server collection is the index's no more.
                if let Err(e) = QdrantBackend::drop_collection(&q, collection) {
                    tracing::warn!(%collection, error = %e, "could not delete the old Qdrant collection");
                }
            }
            (VectorsAt::Qdrant { .. }, None) => {}
        }
        debug_assert!(dir.join(META_FILE).is_file());
        Ok(report)
    }
}

/// Counts must match, and a sample spread over the id range must have the same vectors and
/// payload on both sides.
fn verify(src: &dyn VectorBackend, dst: &dyn VectorBackend, total: usize) -> Result<usize> {
    let there = dst.count()?;
    if there != total {
        return Err(Error::Vector(format!(
            "migration check failed: {} holds {total} points but {} holds {there}; run the \
             migration again (it starts over)",
            src.location(),
            dst.location()
        )));
    }
    let ids: Vec<Uuid> = src.points()?.into_iter().map(|(id, _)| id).collect();
    let mut there: Vec<Uuid> = dst.points()?.into_iter().map(|(id, _)| id).collect();
    let mut here = ids.clone();
    here.sort();
    there.sort();
    if here != there {
        return Err(Error::Vector(format!(
            "migration check failed: {} and {} hold different points; run the migration again \
             (it starts over)",
            src.location(),
            dst.location()
        )));
    }
    let step = (ids.len() / SAMPLE).max(1);
    let sample: Vec<Uuid> = ids.iter().step_by(step).take(SAMPLE).copied().collect();
    let mut a = src.get(&sample)?;
    let mut b = dst.get(&sample)?;
    a.sort_by_key(|p| p.id);
    b.sort_by_key(|p| p.id);
    if a.len() != b.len() {
        return Err(Error::Vector(format!(
            "migration check failed: {} of {} sampled points are missing from {}",
            a.len().saturating_sub(b.len()),
            a.len(),
            dst.location()
        )));
    }
    for (x, y) in a.iter().zip(&b) {
        if x.id != y.id || x.asset_id != y.asset_id || x.payload != y.payload || !same_vectors(x, y) {
            return Err(Error::Vector(format!(
                "migration check failed: point {} differs between {} and {}",
                x.id,
                src.location(),
                dst.location()
            )));
        }
    }
    Ok(a.len())
}
