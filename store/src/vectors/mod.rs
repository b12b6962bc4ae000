//! The vector side of the Index: one Qdrant collection with named vectors.
//!
//! [`VectorBackend`] is what callers use. [`EdgeBackend`] implements it with `qdrant-edge` in
//! process (the default); [`QdrantBackend`] with a Qdrant server or cluster through `qdrant-client`
//! (gRPC). Both store the same named vectors, point ids and payload, and both render the same
//! [`conditions`] (the one place Loupe's filters get their meaning), so callers do not change and
//! the two return the same ids in the same order.

mod edge;
mod server;

pub use edge::EdgeBackend;
pub use server::{
    CollectionModels, CollectionSettings, OpenMode, QdrantBackend, QdrantConfig, Quantization,
    ReadConsistency, Retry, RetryPolicy, SearchSettings, WriteOrdering, classify, redact_url,
};

use crate::Result;
use loupe_schemas::{AssetId, AssetKind, Filters, Segment, Uuid};
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

/// One point: a segment's vectors and payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The segment id (UUIDv5 of asset id and locator): writing twice is an upsert.
    pub id: Uuid,
    pub asset_id: AssetId,
    pub payload: PointPayload,
    pub vectors: Vec<(Space, Vec<f32>)>,
}

impl Point {
    /// The point of a segment.
    pub fn of(segment: &Segment, payload: PointPayload, vectors: Vec<(Space, Vec<f32>)>) -> Self {
        Self {
            id: segment.id,
            asset_id: segment.asset_id.clone(),
            payload,
            vectors,
        }
    }
}

/// One page of [`VectorBackend::scroll`]: points in id order, and where the next page starts.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub points: Vec<Point>,
    /// Points of this page whose payload is not Loupe's (damaged, or written by something else).
    pub unreadable: Vec<Uuid>,
    pub next: Option<Uuid>,
}

/// Where a backend keeps its vectors, for `loupe status` and error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// Qdrant Edge in this folder.
    Embedded(std::path::PathBuf),
    /// A collection on a Qdrant server (the URL without credentials).
    Server { url: String, collection: String },
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Embedded(dir) => write!(f, "embedded Qdrant Edge at {}", dir.display()),
            Self::Server { url, collection } => write!(f, "Qdrant server {url}, collection '{collection}'"),
        }
    }
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
    fn points(&self) -> Result<Vec<(Uuid, Option<AssetId>)>> {
        let mut out = Vec::new();
        let mut offset = None;
        loop {
            let page = self.scroll(offset, 1000, false)?;
            out.extend(page.points.into_iter().map(|p| (p.id, Some(p.asset_id))));
            out.extend(page.unreadable.into_iter().map(|id| (id, None)));
            match page.next {
                Some(n) => offset = Some(n),
                None => return Ok(out),
            }
        }
    }
    /// Up to `limit` points in id order from `offset` (inclusive), with their payload, and with
    /// their vectors when `with_vectors`. Points without a readable payload are listed apart.
    fn scroll(&self, offset: Option<Uuid>, limit: usize, with_vectors: bool) -> Result<Page>;
    /// These points with payload and vectors; ids that do not exist are left out.
    fn get(&self, ids: &[Uuid]) -> Result<Vec<Point>>;
    /// Where the vectors live.
    fn location(&self) -> Location;
    /// Makes every write so far durable.
    fn flush(&self) -> Result<()>;
    /// Builds search indexes (HNSW) for what was written; may take a while.
    fn optimize(&self) -> Result<()>;
}

/// Reads back what [`payload_json`] wrote. `None` when a field is missing or of the wrong type.
pub fn payload_from_json(v: &serde_json::Map<String, serde_json::Value>) -> Option<(AssetId, PointPayload)> {
    let asset_id = v.get("asset_id")?.as_str()?.parse().ok()?;
    let kind = v.get("kind")?.as_str()?.parse().ok()?;
    let dirs = v
        .get("dirs")?
        .as_array()?
        .iter()
        .map(|d| d.as_str().map(str::to_string))
        .collect::<Option<Vec<_>>>()?;
    Some((
        asset_id,
        PointPayload {
            kind,
            dirs,
            date_ts: v.get("date_ts")?.as_i64()?,
            duration_ms: v.get("duration_ms")?.as_i64()?,
        },
    ))
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

/// One condition of a vector filter, in terms both backends share. Every condition of a
/// [`Filters`] must hold (they are ANDed).
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The keyword field holds one of these values (for an array field: any element does).
    Any { key: &'static str, values: Vec<String> },
    /// The keyword field holds this value (for an array field: some element is this value).
    Is { key: &'static str, value: String },
    /// The integer field lies in this inclusive range (an open end is `None`).
    Range {
        key: &'static str,
        gte: Option<i64>,
        lte: Option<i64>,
    },
}

/// The payload fields filters use, each with a payload index on every backend.
pub const INDEXED_FIELDS: &[(&str, FieldType)] = &[
    ("asset_id", FieldType::Keyword),
    ("kind", FieldType::Keyword),
    ("dirs", FieldType::Keyword),
    ("date_ts", FieldType::Integer),
    ("duration_ms", FieldType::Integer),
];

/// The type of an indexed payload field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Keyword,
    Integer,
}

/// Loupe's filters as vector-store conditions: the one place their meaning is decided. Each
/// backend only renders these (Qdrant Edge as Qdrant's JSON filter, a Qdrant server as gRPC).
pub fn conditions(f: &Filters) -> Vec<Condition> {
    let mut must = Vec::new();
    if !f.kinds.is_empty() {
        must.push(Condition::Any {
            key: "kind",
            values: f.kinds.iter().map(|k| k.as_str().to_string()).collect(),
        });
    }
    if let Some(p) = &f.path_prefix {
        must.push(Condition::Is {
            key: "dirs",
            value: normalize_prefix(p),
        });
    }
    if f.date_from.is_some() || f.date_to.is_some() {
        must.push(Condition::Range {
            key: "date_ts",
            gte: f.date_from,
            lte: f.date_to,
        });
    }
    if let Some((lo, hi)) = duration_range_ms(f) {
        must.push(Condition::Range {
            key: "duration_ms",
            gte: Some(lo),
            lte: (hi != i64::MAX).then_some(hi),
        });
    }
    if !f.asset_ids.is_empty() {
        must.push(Condition::Any {
            key: "asset_id",
            values: f.asset_ids.iter().map(|a| a.as_str().to_string()).collect(),
        });
    }
    must
}

/// The condition that selects every point of one asset.
pub fn asset_condition(asset: &AssetId) -> Condition {
    Condition::Is {
        key: "asset_id",
        value: asset.as_str().to_string(),
    }
}

/// The payload of a point, as the JSON object both backends store.
pub fn payload_json(asset_id: &AssetId, p: &PointPayload) -> serde_json::Value {
    serde_json::json!({
        "asset_id": asset_id.as_str(),
        "kind": p.kind.as_str(),
        "dirs": p.dirs,
        "date_ts": p.date_ts,
        "duration_ms": p.duration_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use loupe_schemas::Locator;

    fn point(asset: u8, v: Vec<f32>, kind: AssetKind, dir: &str) -> Point {
        Point::of(
            &Segment::new(AssetId::from_hash(&[asset; 32]), Locator::Whole),
            PointPayload {
                kind,
                dirs: ancestor_dirs(&format!("{dir}/f.jpg")),
                date_ts: i64::from(asset) * 100,
                // Videos are 12 s long; other kinds have no duration.
                duration_ms: if kind == AssetKind::Video { 12_000 } else { -1 },
            },
            vec![(Space::Visual, v)],
        )
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
