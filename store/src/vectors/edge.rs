//! Qdrant Edge, in process: the default vector backend.

use super::{
    Condition, FieldType, INDEXED_FIELDS, Location, Page, Point, Scored, Space, VectorBackend, VectorQuery,
    asset_condition, conditions, payload_from_json, payload_json,
};
use crate::{Error, Result};
use loupe_schemas::{AssetId, Uuid};
use qdrant_edge::external::serde_json::{self as qjson, json};
use qdrant_edge::{
    CreateIndex, Distance, EdgeConfig, EdgeShard, EdgeVectorParams, FieldIndexOperations, Filter,
    PayloadFieldSchema, PayloadOps, PayloadSchemaType, PointId, PointInsertOperations, PointOperations,
    PointStruct, QueryEnum, SearchRequest, SetPayloadOp, UpdateOperation, Vectors, WithPayloadInterface,
    WithVector,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Renders conditions as Qdrant's JSON filter (the REST API's form), which Edge deserializes.
fn to_filter(conds: &[Condition]) -> Result<Option<Filter>> {
    if conds.is_empty() {
        return Ok(None);
    }
    let must: Vec<qjson::Value> = conds
        .iter()
        .map(|c| match c {
            Condition::Any { key, values } => json!({"key": key, "match": {"any": values}}),
            Condition::Is { key, value } => json!({"key": key, "match": {"value": value}}),
            Condition::Range { key, gte, lte } => {
                let mut range = qjson::Map::new();
                if let Some(a) = gte {
                    range.insert("gte".into(), json!(a));
                }
                if let Some(b) = lte {
                    range.insert("lte".into(), json!(b));
                }
                json!({"key": key, "range": range})
            }
        })
        .collect();
    qjson::from_value(json!({ "must": must }))
        .map(Some)
        .map_err(|e| Error::Vector(format!("building filter: {e}")))
}

fn asset_filter(asset: &AssetId) -> Result<Filter> {
    to_filter(&[asset_condition(asset)])?.ok_or_else(|| Error::Vector("empty asset filter".into()))
}

fn verr(e: impl std::fmt::Display) -> Error {
    Error::Vector(e.to_string())
}

/// Qdrant Edge, in process.
pub struct EdgeBackend {
    shard: EdgeShard,
    dir: PathBuf,
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
            return Ok(Self {
                shard,
                dir: dir.to_path_buf(),
            });
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
        for (field, ty) in INDEXED_FIELDS {
            let ty = match ty {
                FieldType::Keyword => PayloadSchemaType::Keyword,
                FieldType::Integer => PayloadSchemaType::Integer,
            };
            shard
                .update(UpdateOperation::FieldIndexOperation(
                    FieldIndexOperations::CreateIndex(CreateIndex {
                        field_name: (*field)
                            .try_into()
                            .map_err(|_| Error::Vector(format!("bad field {field}")))?,
                        field_schema: Some(PayloadFieldSchema::FieldType(ty)),
                    }),
                ))
                .map_err(verr)?;
        }
        shard.flush();
        Ok(Self {
            shard,
            dir: dir.to_path_buf(),
        })
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

/// The named dense vectors of a stored record.
fn named_vectors(vs: qdrant_edge::VectorStructInternal) -> Vec<(Space, Vec<f32>)> {
    match qdrant_edge::VectorStructPersisted::from(vs) {
        qdrant_edge::VectorStructPersisted::Named(map) => [Space::Visual, Space::Text]
            .into_iter()
            .filter_map(|space| match map.get(space.name()) {
                Some(qdrant_edge::VectorPersisted::Dense(v)) => Some((space, v.clone())),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A stored record as a [`Point`]; an error when its payload is not Loupe's.
/// The point, `Err(id)` when its payload is not a readable Loupe payload, `None` for a
/// non-UUID id (never written by Loupe).
fn record_point(r: qdrant_edge::Record) -> Option<std::result::Result<Point, Uuid>> {
    let id = point_id_to_uuid(&r.id)?;
    let Some((asset_id, payload)) = r.payload.as_ref().and_then(|p| payload_from_json(&p.0)) else {
        return Some(Err(id));
    };
    Some(Ok(Point {
        id,
        asset_id,
        payload,
        vectors: r.vector.map(named_vectors).unwrap_or_default(),
    }))
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
            let payload = payload_json(&p.asset_id, &p.payload);
            list.push(PointStruct::new(PointId::Uuid(p.id), vectors, payload).into());
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
        let filter = to_filter(&conditions(q.filters))?;
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
        Ok(named_vectors(vs)
            .into_iter()
            .find(|(s, _)| *s == space)
            .map(|(_, v)| v))
    }

    fn count(&self) -> Result<usize> {
        self.shard
            .count(qdrant_edge::CountRequest {
                filter: None,
                exact: true,
            })
            .map_err(verr)
    }

    fn scroll(&self, offset: Option<Uuid>, limit: usize, with_vectors: bool) -> Result<Page> {
        let (records, next) = self
            .shard
            .scroll(qdrant_edge::ScrollRequest {
                offset: offset.map(PointId::Uuid),
                limit: Some(limit),
                filter: None,
                with_payload: Some(WithPayloadInterface::Bool(true)),
                with_vector: WithVector::Bool(with_vectors),
                order_by: None,
            })
            .map_err(verr)?;
        let mut points = Vec::with_capacity(records.len());
        let mut unreadable = Vec::new();
        for r in records {
            match record_point(r) {
                Some(Ok(p)) => points.push(p),
                Some(Err(id)) => unreadable.push(id),
                None => {}
            }
        }
        Ok(Page {
            points,
            unreadable,
            next: next.as_ref().and_then(point_id_to_uuid),
        })
    }

    fn get(&self, ids: &[Uuid]) -> Result<Vec<Point>> {
        let ids: Vec<PointId> = ids.iter().map(|u| PointId::Uuid(*u)).collect();
        let recs = self
            .shard
            .retrieve(
                &ids,
                Some(WithPayloadInterface::Bool(true)),
                Some(WithVector::Bool(true)),
            )
            .map_err(verr)?;
        let mut out = Vec::with_capacity(recs.len());
        for r in recs {
            if let Some(p) = record_point(r) {
                out.push(p.map_err(|id| Error::Vector(format!("point {id} has no valid Loupe payload")))?);
            }
        }
        Ok(out)
    }

    fn location(&self) -> Location {
        Location::Embedded(self.dir.clone())
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
