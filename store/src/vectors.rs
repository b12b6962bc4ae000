//! The vector side of the Index: one Qdrant collection with named vectors.
//!
//! [`VectorBackend`] is what callers use; [`EdgeBackend`] implements it with `qdrant-edge` in
//! process. A Qdrant server backend (through `qdrant-client`) implements the same trait with the
//! same payload and filter shapes, so callers do not change.

use crate::{Error, Result};
use loupe_schemas::{AssetId, AssetKind, Filters, Segment, Uuid};
use qdrant_edge::external::serde_json::{self as qjson, json};
use qdrant_edge::{
    CreateIndex, Distance, EdgeConfig, EdgeShard, EdgeVectorParams, FieldIndexOperations, Filter,
    PayloadFieldSchema, PayloadOps, PayloadSchemaType, PointId, PointInsertOperations, PointOperations,
    PointStruct, QueryEnum, SearchRequest, SetPayloadOp, UpdateOperation, Vectors, WithPayloadInterface,
    WithVector,
};
use std::collections::HashMap;
use std::path::Path;

/// A named vector space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Space {
    /// CLIP image space: photos, keyframes, pages (queried by the CLIP text or image tower).
    Visual,
    /// Sentence-embedder space: transcript segments and OCR text (queried by the same embedder).
    Text,
}

impl Space {
    pub fn name(self) -> &'static str {
        match self {
            Self::Visual => "visual",
            Self::Text => "text",
        }
    }
}

/// Payload fields every point carries; each has a payload index so filters stay fast.
#[derive(Debug, Clone, PartialEq)]
pub struct PointPayload {
    pub kind: AssetKind,
    /// Every folder that contains one of the asset's paths (for path-prefix filters).
    pub dirs: Vec<String>,
    /// Capture time, else mtime (seconds since the epoch).
    pub date_ts: i64,
    /// Length of a video or recording in milliseconds; -1 for assets without one.
    pub duration_ms: i64,
}

/// One point to write.
#[derive(Debug, Clone)]
pub struct Point {
    pub segment: Segment,
    pub payload: PointPayload,
    pub vectors: Vec<(Space, Vec<f32>)>,
}

/// A nearest-neighbour query.
#[derive(Debug, Clone)]
pub struct VectorQuery<'a> {
    pub space: Space,
    pub vector: &'a [f32],
    pub filters: &'a Filters,
    pub limit: usize,
    pub score_threshold: Option<f32>,
}

/// A scored point.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub segment_id: Uuid,
    pub asset_id: AssetId,
    pub score: f32,
}

/// The operations Loupe needs from a vector engine.
pub trait VectorBackend: Send + Sync {
    fn upsert(&self, points: Vec<Point>) -> Result<()>;
    /// Removes every point of an asset.
    fn delete_asset(&self, asset: &AssetId) -> Result<()>;
    /// Rewrites the path-derived payload of every point of an asset (after a move or copy).
    fn set_dirs(&self, asset: &AssetId, dirs: &[String]) -> Result<()>;
    fn search(&self, q: &VectorQuery<'_>) -> Result<Vec<Scored>>;
    /// The stored vector of a segment.
    fn vector(&self, segment: Uuid, space: Space) -> Result<Option<Vec<f32>>>;
    fn count(&self) -> Result<usize>;
    /// Every point: its segment id and the asset its payload names (for consistency checks).
    fn points(&self) -> Result<Vec<(Uuid, Option<AssetId>)>>;
    /// Makes every write so far durable.
    fn flush(&self) -> Result<()>;
    /// Builds search indexes (HNSW) for what was written; may take a while.
    fn optimize(&self) -> Result<()>;
}

/// Folder names of an absolute path's ancestors: `/a/b/c.jpg` -> `["/", "/a", "/a/b"]`.
pub fn ancestor_dirs(path: &str) -> Vec<String> {
    Path::new(path)
        .ancestors()
        .skip(1)
        .filter_map(|p| p.to_str())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Normalises a user's path prefix to the form stored in `dirs` (no trailing slash).
pub fn normalize_prefix(prefix: &str) -> String {
    let t = prefix.trim_end_matches('/');
    if t.is_empty() { "/".into() } else { t.into() }
}

/// The duration filter as an inclusive millisecond range, when there is one. Assets without a
/// duration (stored as -1) never pass it.
pub fn duration_range_ms(f: &Filters) -> Option<(i64, i64)> {
    if f.duration_min_s.is_none() && f.duration_max_s.is_none() {
        return None;
    }
    let ms = |s: f64| (s * 1000.0).round() as i64;
    let lo = f.duration_min_s.map_or(0, ms).max(0);
    let hi = f.duration_max_s.map_or(i64::MAX, ms);
    Some((lo, hi))
}

/// Builds the Qdrant filter for Loupe's filters, in Qdrant's JSON form (same as the server's REST API).
pub fn qdrant_filter_json(f: &Filters) -> Option<qjson::Value> {
    let mut must = Vec::new();
    if !f.kinds.is_empty() {
        let kinds: Vec<&str> = f.kinds.iter().map(|k| k.as_str()).collect();
        must.push(json!({"key": "kind", "match": {"any": kinds}}));
    }
    if let Some(p) = &f.path_prefix {
        must.push(json!({"key": "dirs", "match": {"value": normalize_prefix(p)}}));
    }
    if f.date_from.is_some() || f.date_to.is_some() {
        let mut range = qjson::Map::new();
        if let Some(a) = f.date_from {
            range.insert("gte".into(), json!(a));
        }
        if let Some(b) = f.date_to {
            range.insert("lte".into(), json!(b));
        }
        must.push(json!({"key": "date_ts", "range": range}));
    }
    if let Some((lo, hi)) = duration_range_ms(f) {
        must.push(json!({"key": "duration_ms", "range": {"gte": lo, "lte": hi}}));
    }
    if !f.asset_ids.is_empty() {
        let ids: Vec<&str> = f.asset_ids.iter().map(|a| a.as_str()).collect();
        must.push(json!({"key": "asset_id", "match": {"any": ids}}));
    }
    (!must.is_empty()).then(|| json!({ "must": must }))
}

fn to_filter(v: qjson::Value) -> Result<Filter> {
    qjson::from_value(v).map_err(|e| Error::Vector(format!("building filter: {e}")))
}

fn asset_filter(asset: &AssetId) -> Result<Filter> {
    to_filter(json!({"must": [{"key": "asset_id", "match": {"value": asset.as_str()}}]}))
}

fn verr(e: impl std::fmt::Display) -> Error {
    Error::Vector(e.to_string())
}

/// Qdrant Edge, in process.
pub struct EdgeBackend {
    shard: EdgeShard,
}

impl EdgeBackend {
    /// Opens the shard at `dir`, creating it (with the visual space of `visual_dim`, the text space
    /// of `text_dim` when there is one, and the payload indexes) if it does not exist.
    pub fn open(dir: &Path, visual_dim: usize, text_dim: Option<usize>) -> Result<Self> {
        let exists = dir.join("segments").is_dir();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let wanted: Vec<(Space, usize)> = std::iter::once((Space::Visual, visual_dim))
            .chain(text_dim.map(|d| (Space::Text, d)))
            .collect();
        if exists {
            let shard = EdgeShard::load(dir, None).map_err(verr)?;
            for (space, dim) in &wanted {
                let have = shard.config().vectors.get(space.name()).map(|v| v.size);
                if have != Some(*dim) {
                    return Err(Error::Vector(format!(
                        "vector store at {} has {} dimension {have:?}, expected {dim}",
                        dir.display(),
                        space.name()
                    )));
                }
            }
            return Ok(Self { shard });
        }
        let config = EdgeConfig {
            on_disk_payload: false,
            vectors: wanted
                .iter()
                .map(|(space, dim)| {
                    (
                        space.name().to_string(),
                        EdgeVectorParams {
                            size: *dim,
                            distance: Distance::Cosine,
                            on_disk: None,
                            multivector_config: None,
                            datatype: None,
                            quantization_config: None,
                            hnsw_config: None,
                        },
                    )
                })
                .collect::<HashMap<_, _>>(),
            ..EdgeConfig::default()
        };
        let shard = EdgeShard::new(dir, config).map_err(verr)?;
        for (field, ty) in [
            ("asset_id", PayloadSchemaType::Keyword),
            ("kind", PayloadSchemaType::Keyword),
            ("dirs", PayloadSchemaType::Keyword),
            ("date_ts", PayloadSchemaType::Integer),
            ("duration_ms", PayloadSchemaType::Integer),
        ] {
            shard
                .update(UpdateOperation::FieldIndexOperation(
                    FieldIndexOperations::CreateIndex(CreateIndex {
                        field_name: field
                            .try_into()
                            .map_err(|_| Error::Vector(format!("bad field {field}")))?,
                        field_schema: Some(PayloadFieldSchema::FieldType(ty)),
                    }),
                ))
                .map_err(verr)?;
        }
        shard.flush();
        Ok(Self { shard })
    }
}

/// Asks for the `asset_id` payload field only (what search results and listings need).
fn asset_id_only() -> Result<WithPayloadInterface> {
    Ok(WithPayloadInterface::Fields(vec![
        "asset_id"
            .try_into()
            .map_err(|_| Error::Vector("bad field".into()))?,
    ]))
}

/// The asset a point's payload names, if it names one.
fn payload_asset(payload: Option<&qdrant_edge::Payload>) -> Option<AssetId> {
    payload?.0.get("asset_id")?.as_str()?.parse().ok()
}

fn point_id_to_uuid(id: &PointId) -> Option<Uuid> {
    match id {
        PointId::Uuid(u) => Some(*u),
        PointId::NumId(_) => None,
    }
}

impl VectorBackend for EdgeBackend {
    fn upsert(&self, points: Vec<Point>) -> Result<()> {
        if points.is_empty() {
            return Ok(());
        }
        let mut list = Vec::with_capacity(points.len());
        for p in points {
            let vectors = Vectors::new_named(
                p.vectors
                    .into_iter()
                    .map(|(space, v)| (space.name(), qdrant_edge::Vector::new_dense(v))),
            );
            let payload = json!({
                "asset_id": p.segment.asset_id.as_str(),
                "kind": p.payload.kind.as_str(),
                "dirs": p.payload.dirs,
                "date_ts": p.payload.date_ts,
                "duration_ms": p.payload.duration_ms,
            });
            list.push(PointStruct::new(PointId::Uuid(p.segment.id), vectors, payload).into());
        }
        self.shard
            .update(UpdateOperation::PointOperation(PointOperations::UpsertPoints(
                PointInsertOperations::PointsList(list),
            )))
            .map_err(verr)
    }

    fn delete_asset(&self, asset: &AssetId) -> Result<()> {
        self.shard
            .update(UpdateOperation::PointOperation(
                PointOperations::DeletePointsByFilter(asset_filter(asset)?),
            ))
            .map_err(verr)
    }

    fn set_dirs(&self, asset: &AssetId, dirs: &[String]) -> Result<()> {
        let payload = match json!({ "dirs": dirs }) {
            qjson::Value::Object(m) => qdrant_edge::Payload(m),
            _ => return Err(Error::Vector("payload is not an object".into())),
        };
        self.shard
            .update(UpdateOperation::PayloadOperation(PayloadOps::SetPayload(
                SetPayloadOp {
                    payload,
                    points: None,
                    filter: Some(asset_filter(asset)?),
                    key: None,
                },
            )))
            .map_err(verr)
    }

    fn search(&self, q: &VectorQuery<'_>) -> Result<Vec<Scored>> {
        let filter = qdrant_filter_json(q.filters).map(to_filter).transpose()?;
        let req = SearchRequest {
            query: QueryEnum::Nearest(qdrant_edge::NamedQuery {
                query: qdrant_edge::VectorInternal::from(q.vector.to_vec()),
                using: Some(q.space.name().to_string()),
            }),
            filter,
            params: None,
            limit: q.limit,
            offset: 0,
            with_payload: Some(asset_id_only()?),
            with_vector: Some(WithVector::Bool(false)),
            score_threshold: q.score_threshold,
        };
        let points = self.shard.search(req).map_err(verr)?;
        let mut out = Vec::with_capacity(points.len());
        for p in points {
            let Some(segment_id) = point_id_to_uuid(&p.id) else {
                continue;
            };
            let Some(asset_id) = payload_asset(p.payload.as_ref()) else {
                return Err(Error::Vector(format!(
                    "point {segment_id} has no asset_id payload"
                )));
            };
            out.push(Scored {
                segment_id,
                asset_id,
                score: p.score,
            });
        }
        Ok(out)
    }

    fn vector(&self, segment: Uuid, space: Space) -> Result<Option<Vec<f32>>> {
        let id = PointId::Uuid(segment);
        let recs = self
            .shard
            .retrieve(
                &[id],
                Some(WithPayloadInterface::Bool(false)),
                Some(WithVector::Bool(true)),
            )
            .map_err(verr)?;
        let Some(rec) = recs.into_iter().next() else {
            return Ok(None);
        };
        let Some(vs) = rec.vector else {
            return Ok(None);
        };
        let named = qdrant_edge::VectorStructPersisted::from(vs);
        Ok(match named {
            qdrant_edge::VectorStructPersisted::Named(map) => match map.get(space.name()) {
                Some(qdrant_edge::VectorPersisted::Dense(v)) => Some(v.clone()),
                _ => None,
            },
            _ => None,
        })
    }

    fn count(&self) -> Result<usize> {
        self.shard
            .count(qdrant_edge::CountRequest {
                filter: None,
                exact: true,
            })
            .map_err(verr)
    }

    fn points(&self) -> Result<Vec<(Uuid, Option<AssetId>)>> {
        let mut out = Vec::new();
        let mut offset = None;
        loop {
            let (records, next) = self
                .shard
                .scroll(qdrant_edge::ScrollRequest {
                    offset,
                    limit: Some(1000),
                    filter: None,
                    with_payload: Some(asset_id_only()?),
                    with_vector: WithVector::Bool(false),
                    order_by: None,
                })
                .map_err(verr)?;
            for r in records {
                let Some(segment) = point_id_to_uuid(&r.id) else {
                    continue;
                };
                out.push((segment, payload_asset(r.payload.as_ref())));
            }
            match next {
                Some(n) => offset = Some(n),
                None => return Ok(out),
            }
        }
    }

    fn flush(&self) -> Result<()> {
        self.shard.flush();
        Ok(())
    }

    fn optimize(&self) -> Result<()> {
        self.shard.optimize().map_err(verr)?;
        self.shard.flush();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loupe_schemas::Locator;

    fn point(asset: u8, v: Vec<f32>, kind: AssetKind, dir: &str) -> Point {
        Point {
            segment: Segment::new(AssetId::from_hash(&[asset; 32]), Locator::Whole),
            payload: PointPayload {
                kind,
                dirs: ancestor_dirs(&format!("{dir}/f.jpg")),
                date_ts: i64::from(asset) * 100,
                // Videos are 12 s long; other kinds have no duration.
                duration_ms: if kind == AssetKind::Video { 12_000 } else { -1 },
            },
            vectors: vec![(Space::Visual, v)],
        }
    }

    #[test]
    fn ancestors() {
        assert_eq!(ancestor_dirs("/a/b/c.jpg"), vec!["/a/b", "/a", "/"]);
        assert_eq!(normalize_prefix("/a/b/"), "/a/b");
        assert_eq!(normalize_prefix("/"), "/");
    }

    #[test]
    fn edge_roundtrip_filters_and_deletes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("q");
        {
            let b = EdgeBackend::open(&dir, 3, None).unwrap();
            b.upsert(vec![
                point(1, vec![1.0, 0.0, 0.0], AssetKind::Image, "/lib/red"),
                point(2, vec![0.0, 1.0, 0.0], AssetKind::Image, "/lib/green"),
                point(3, vec![0.9, 0.1, 0.0], AssetKind::Video, "/lib/red"),
            ])
            .unwrap();
            // Upserting again does not duplicate.
            b.upsert(vec![point(1, vec![1.0, 0.0, 0.0], AssetKind::Image, "/lib/red")])
                .unwrap();
            assert_eq!(b.count().unwrap(), 3);
            b.flush().unwrap();
        }
        let b = EdgeBackend::open(&dir, 3, None).unwrap();
        let all = Filters::default();
        let q = |filters: &Filters| {
            b.search(&VectorQuery {
                space: Space::Visual,
                vector: &[1.0, 0.0, 0.0],
                filters,
                limit: 10,
                score_threshold: None,
            })
            .unwrap()
        };
        let hits = q(&all);
        assert_eq!(hits.len(), 3);
        assert_eq!(hits[0].asset_id, AssetId::from_hash(&[1; 32]));
        let images = Filters {
            kinds: vec![AssetKind::Image],
            ..Filters::default()
        };
        assert_eq!(q(&images).len(), 2);
        let green = Filters {
            path_prefix: Some("/lib/green/".into()),
            ..Filters::default()
        };
        let h = q(&green);
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].asset_id, AssetId::from_hash(&[2; 32]));
        let dated = Filters {
            date_from: Some(150),
            date_to: Some(250),
            ..Filters::default()
        };
        assert_eq!(q(&dated).len(), 1);
        let long = |min: Option<f64>, max: Option<f64>| Filters {
            duration_min_s: min,
            duration_max_s: max,
            ..Filters::default()
        };
        assert_eq!(q(&long(Some(10.0), None)).len(), 1);
        assert_eq!(q(&long(Some(13.0), None)).len(), 0);
        // A duration filter never lets through what has no duration.
        assert_eq!(q(&long(None, Some(60.0))).len(), 1);
        b.set_dirs(&AssetId::from_hash(&[2; 32]), &ancestor_dirs("/elsewhere/x.jpg"))
            .unwrap();
        assert_eq!(q(&green).len(), 0);
        b.delete_asset(&AssetId::from_hash(&[1; 32])).unwrap();
        assert_eq!(b.count().unwrap(), 2);
        let seg = Segment::new(AssetId::from_hash(&[3; 32]), Locator::Whole);
        let v = b.vector(seg.id, Space::Visual).unwrap().unwrap();
        assert_eq!(v.len(), 3);
    }
}
