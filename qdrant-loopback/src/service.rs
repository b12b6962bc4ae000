//! The gRPC services: Qdrant's own tonic server traits (from `qdrant-client`), over the store.
//!
//! Every call goes through [`Service::run`]: count it, apply the injected delay and "fail before"
//! faults, check the API key, handle it, then apply the "fail after apply" faults.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use qdrant_client::qdrant as pb;
use qdrant_edge as edge;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataMap;
use tonic::transport::server::Router;
use tonic::{Request, Response, Status};

use pb::collections_server::{Collections, CollectionsServer};
use pb::points_server::{Points, PointsServer};
use pb::qdrant_server::{Qdrant, QdrantServer};
use pb::snapshots_server::{Snapshots, SnapshotsServer};

use crate::Shared;
use crate::convert::{
    filter_from_proto, json_path, payload_from_proto, point_id_from_proto, point_id_to_proto,
    point_ids_from_proto, retrieved_point, scored_point, search_params_from_proto, unimplemented,
    vectors_from_proto, with_payload_from_proto, with_vector_from_proto,
};
use crate::store::{Collection, edge_error};

const HEALTH_CHECK: &str = "Qdrant/HealthCheck";
/// Largest request accepted (the real server's default `max_request_size_mb` is 32).
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

#[derive(Clone)]
pub(crate) struct Service {
    shared: Arc<Shared>,
}

/// The tonic router serving every Qdrant service.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let svc = Service { shared };
    tonic::transport::Server::builder()
        .add_service(
            QdrantServer::new(svc.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip),
        )
        .add_service(
            CollectionsServer::new(svc.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            PointsServer::new(svc.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(usize::MAX),
        )
        .add_service(SnapshotsServer::new(svc))
}

impl Service {
    async fn begin<T>(&self, request: &Request<T>, method: &'static str) -> Result<(), Status> {
        let shared = &self.shared;
        shared.counters.record(method);
        let delay = shared.faults.current_delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if let Some(status) = shared.faults.take_before(method) {
            return Err(status);
        }
        // As the real server, the health check needs no key.
        if method != HEALTH_CHECK {
            authorize(shared.api_key.as_deref(), request.metadata())?;
        }
        Ok(())
    }

    async fn run<Req, Resp>(
        &self,
        request: Request<Req>,
        method: &'static str,
        handler: impl FnOnce(&Shared, Req) -> Result<Resp, Status>,
    ) -> Result<Response<Resp>, Status> {
        self.begin(&request, method).await?;
        let response = handler(&self.shared, request.into_inner())?;
        if let Some(status) = self.shared.faults.take_after(method) {
            return Err(status);
        }
        Ok(Response::new(response))
    }

    async fn refuse<Req, Resp>(
        &self,
        request: Request<Req>,
        method: &'static str,
    ) -> Result<Response<Resp>, Status> {
        self.begin(&request, method).await?;
        Err(unimplemented(format!("/qdrant.{method}")))
    }
}

/// The real server's check (`src/common/auth`): the key comes in `api-key` or as
/// `authorization: Bearer <key>`; both failures are `Unauthenticated`.
fn authorize(expected: Option<&str>, metadata: &MetadataMap) -> Result<(), Status> {
    let Some(expected) = expected.filter(|k| !k.is_empty()) else {
        return Ok(());
    };
    let header = |name: &str| metadata.get(name).and_then(|v| v.to_str().ok());
    let key = header("api-key").or_else(|| header("authorization").and_then(|v| v.strip_prefix("Bearer ")));
    match key {
        None => Err(Status::unauthenticated(
            "Must provide an API key or an Authorization bearer token",
        )),
        Some(key) if key == expected => Ok(()),
        Some(_) => Err(Status::unauthenticated("Invalid API key or JWT")),
    }
}

fn elapsed(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

fn refuse_shard_keys(selector: Option<&pb::ShardKeySelector>) -> Result<(), Status> {
    match selector {
        Some(_) => Err(unimplemented("shard keys (shard_key_selector)")),
        None => Ok(()),
    }
}

fn update_response(operation_id: u64, wait: bool, t: Instant) -> pb::PointsOperationResponse {
    // As the real server: `Completed` when the caller waited, `Acknowledged` otherwise.
    let status = if wait {
        pb::UpdateStatus::Completed
    } else {
        pb::UpdateStatus::Acknowledged
    };
    pb::PointsOperationResponse {
        result: Some(pb::UpdateResult {
            operation_id: Some(operation_id),
            status: status as i32,
        }),
        time: elapsed(t),
        usage: None,
    }
}

/// Points named by a selector: ids, or a filter.
enum Selected {
    Ids(Vec<edge::PointId>),
    Filter(edge::Filter),
}

fn selected(selector: Option<pb::PointsSelector>, missing: &str) -> Result<Selected, Status> {
    use pb::points_selector::PointsSelectorOneOf;
    let selector = selector.ok_or_else(|| Status::invalid_argument(missing.to_string()))?;
    match selector.points_selector_one_of {
        Some(PointsSelectorOneOf::Points(list)) => Ok(Selected::Ids(point_ids_from_proto(list.ids)?)),
        Some(PointsSelectorOneOf::Filter(filter)) => Ok(Selected::Filter(
            filter_from_proto(Some(filter))?.unwrap_or_default(),
        )),
        None => Err(Status::invalid_argument("Malformed PointsSelector type")),
    }
}

fn split(selected: Selected) -> (Option<Vec<edge::PointId>>, Option<edge::Filter>) {
    match selected {
        Selected::Ids(ids) => (Some(ids), None),
        Selected::Filter(f) => (None, Some(f)),
    }
}

/// The sizes of the collection's dense vectors, by name, to check vectors against.
fn vector_sizes(c: &Collection) -> Result<HashMap<String, usize>, Status> {
    c.read(|shard| {
        Ok(shard
            .config()
            .vectors
            .iter()
            .map(|(name, p)| (name.clone(), p.size))
            .collect())
    })
}

fn check_vector(sizes: &HashMap<String, usize>, name: &str, dim: usize) -> Result<(), Status> {
    match sizes.get(name) {
        None => Err(edge_error(edge::OperationError::vector_name_not_exists(name))),
        Some(&expected) if expected != dim => Err(edge_error(edge::OperationError::WrongVectorDimension {
            expected_dim: expected,
            received_dim: dim,
        })),
        Some(_) => Ok(()),
    }
}

/// A nearest-neighbour search, shared by `Search` and `Query`.
struct Nearest {
    using: String,
    vector: Vec<f32>,
    filter: Option<pb::Filter>,
    params: Option<pb::SearchParams>,
    limit: usize,
    offset: usize,
    score_threshold: Option<f32>,
    with_payload: Option<pb::WithPayloadSelector>,
    with_vectors: Option<pb::WithVectorsSelector>,
}

fn nearest(c: &Collection, n: Nearest) -> Result<Vec<pb::ScoredPoint>, Status> {
    check_vector(&vector_sizes(c)?, &n.using, n.vector.len())?;
    let request = edge::SearchRequest {
        query: edge::QueryEnum::Nearest(edge::NamedQuery {
            query: edge::VectorInternal::Dense(n.vector),
            using: (!n.using.is_empty()).then_some(n.using),
        }),
        filter: filter_from_proto(n.filter)?,
        params: search_params_from_proto(n.params)?,
        limit: n.limit,
        offset: n.offset,
        with_payload: with_payload_from_proto(n.with_payload)?,
        with_vector: Some(with_vector_from_proto(n.with_vectors)),
        score_threshold: n.score_threshold,
    };
    let points = c.read(|shard| shard.search(request).map_err(edge_error))?;
    Ok(points.into_iter().map(scored_point).collect())
}

// ---------------------------------------------------------------------------------------------
// Handlers

fn collection_info(
    s: &Shared,
    r: pb::GetCollectionInfoRequest,
) -> Result<pb::GetCollectionInfoResponse, Status> {
    let t = Instant::now();
    let info = s.store.get(&r.collection_name)?.info()?;
    Ok(pb::GetCollectionInfoResponse {
        result: Some(info),
        time: elapsed(t),
    })
}

fn list_collections(
    s: &Shared,
    _: pb::ListCollectionsRequest,
) -> Result<pb::ListCollectionsResponse, Status> {
    let t = Instant::now();
    Ok(pb::ListCollectionsResponse {
        collections: s
            .store
            .names()
            .into_iter()
            .map(|name| pb::CollectionDescription { name })
            .collect(),
        time: elapsed(t),
    })
}

fn create_collection(s: &Shared, r: pb::CreateCollection) -> Result<pb::CollectionOperationResponse, Status> {
    let t = Instant::now();
    s.store.create(r)?;
    Ok(pb::CollectionOperationResponse {
        result: true,
        time: elapsed(t),
    })
}

fn delete_collection(s: &Shared, r: pb::DeleteCollection) -> Result<pb::CollectionOperationResponse, Status> {
    let t = Instant::now();
    let result = s.store.delete(&r.collection_name)?;
    Ok(pb::CollectionOperationResponse {
        result,
        time: elapsed(t),
    })
}

fn collection_exists(
    s: &Shared,
    r: pb::CollectionExistsRequest,
) -> Result<pb::CollectionExistsResponse, Status> {
    let t = Instant::now();
    Ok(pb::CollectionExistsResponse {
        result: Some(pb::CollectionExists {
            exists: s.store.exists(&r.collection_name),
        }),
        time: elapsed(t),
    })
}

fn upsert(s: &Shared, r: pb::UpsertPoints) -> Result<pb::PointsOperationResponse, Status> {
    let t = Instant::now();
    let pb::UpsertPoints {
        collection_name,
        wait,
        points,
        ordering: _,
        shard_key_selector,
        update_filter,
        timeout: _,
        update_mode,
    } = r;
    refuse_shard_keys(shard_key_selector.as_ref())?;
    if update_filter.is_some() {
        return Err(unimplemented("conditional upserts (update_filter)"));
    }
    if let Some(mode) = update_mode
        && pb::UpdateMode::try_from(mode) != Ok(pb::UpdateMode::Upsert)
    {
        return Err(unimplemented(format!("update_mode {mode} (only Upsert)")));
    }
    let c = s.store.get(&collection_name)?;
    let sizes = vector_sizes(&c)?;
    let mut list = Vec::with_capacity(points.len());
    for p in points {
        let pb::PointStruct { id, payload, vectors } = p;
        let payload = if payload.is_empty() {
            None
        } else {
            Some(payload_from_proto(payload)?)
        };
        if vectors.is_none() {
            return Err(Status::invalid_argument("Expected some vectors"));
        }
        let vectors = vectors_from_proto(vectors)?;
        let id = point_id_from_proto(id.ok_or_else(|| Status::invalid_argument("Empty ID is not allowed"))?)?;
        for (name, v) in &vectors {
            check_vector(&sizes, name, v.len())?;
        }
        let vector = match <[(String, Vec<f32>); 1]>::try_from(vectors) {
            Ok([(name, v)]) if name.is_empty() => edge::VectorStructPersisted::Single(v),
            Ok(one) => edge::VectorStructPersisted::Named(
                one.into_iter()
                    .map(|(name, v)| (name, edge::VectorPersisted::Dense(v)))
                    .collect(),
            ),
            Err(many) => edge::VectorStructPersisted::Named(
                many.into_iter()
                    .map(|(name, v)| (name, edge::VectorPersisted::Dense(v)))
                    .collect(),
            ),
        };
        list.push(edge::PointStructPersisted { id, vector, payload });
    }
    let wait = wait.unwrap_or(false);
    let op = edge::UpdateOperation::PointOperation(edge::PointOperations::UpsertPoints(
        edge::PointInsertOperations::PointsList(list),
    ));
    let operation_id = c.update(op, wait)?;
    Ok(update_response(operation_id, wait, t))
}

fn delete_points(s: &Shared, r: pb::DeletePoints) -> Result<pb::PointsOperationResponse, Status> {
    let t = Instant::now();
    refuse_shard_keys(r.shard_key_selector.as_ref())?;
    let c = s.store.get(&r.collection_name)?;
    let op = match selected(r.points, "PointSelector is missing")? {
        Selected::Ids(ids) => edge::PointOperations::DeletePoints { ids },
        Selected::Filter(filter) => edge::PointOperations::DeletePointsByFilter(filter),
    };
    let wait = r.wait.unwrap_or(false);
    let operation_id = c.update(edge::UpdateOperation::PointOperation(op), wait)?;
    Ok(update_response(operation_id, wait, t))
}

fn get_points(s: &Shared, r: pb::GetPoints) -> Result<pb::GetResponse, Status> {
    let t = Instant::now();
    refuse_shard_keys(r.shard_key_selector.as_ref())?;
    let c = s.store.get(&r.collection_name)?;
    let ids = point_ids_from_proto(r.ids)?;
    let with_payload = with_payload_from_proto(r.with_payload)?;
    let with_vector = with_vector_from_proto(r.with_vectors);
    let records = c.read(|shard| {
        shard
            .retrieve(&ids, with_payload, Some(with_vector))
            .map_err(edge_error)
    })?;
    Ok(pb::GetResponse {
        result: records.into_iter().map(retrieved_point).collect(),
        time: elapsed(t),
        usage: None,
    })
}

fn set_payload(
    s: &Shared,
    r: pb::SetPayloadPoints,
    overwrite: bool,
) -> Result<pb::PointsOperationResponse, Status> {
    let t = Instant::now();
    refuse_shard_keys(r.shard_key_selector.as_ref())?;
    let c = s.store.get(&r.collection_name)?;
    // As the real server, `OverwritePayload` ignores `key`.
    let key = match (&r.key, overwrite) {
        (Some(k), false) => Some(json_path(k)?),
        _ => None,
    };
    let (points, filter) = split(selected(r.points_selector, "points_selector is expected")?);
    let op = edge::SetPayloadOp {
        payload: payload_from_proto(r.payload)?,
        points,
        filter,
        key,
    };
    let op = if overwrite {
        edge::PayloadOps::OverwritePayload(op)
    } else {
        edge::PayloadOps::SetPayload(op)
    };
    let wait = r.wait.unwrap_or(false);
    let operation_id = c.update(edge::UpdateOperation::PayloadOperation(op), wait)?;
    Ok(update_response(operation_id, wait, t))
}

fn delete_payload(s: &Shared, r: pb::DeletePayloadPoints) -> Result<pb::PointsOperationResponse, Status> {
    let t = Instant::now();
    refuse_shard_keys(r.shard_key_selector.as_ref())?;
    let c = s.store.get(&r.collection_name)?;
    let keys = r.keys.iter().map(|k| json_path(k)).collect::<Result<_, _>>()?;
    let (points, filter) = split(selected(r.points_selector, "points_selector is expected")?);
    let op = edge::PayloadOps::DeletePayload(edge::DeletePayloadOp { keys, points, filter });
    let wait = r.wait.unwrap_or(false);
    let operation_id = c.update(edge::UpdateOperation::PayloadOperation(op), wait)?;
    Ok(update_response(operation_id, wait, t))
}

fn clear_payload(s: &Shared, r: pb::ClearPayloadPoints) -> Result<pb::PointsOperationResponse, Status> {
    let t = Instant::now();
    refuse_shard_keys(r.shard_key_selector.as_ref())?;
    let c = s.store.get(&r.collection_name)?;
    let op = match selected(r.points, "PointSelector is missing")? {
        Selected::Ids(points) => edge::PayloadOps::ClearPayload { points },
        Selected::Filter(filter) => edge::PayloadOps::ClearPayloadByFilter(filter),
    };
    let wait = r.wait.unwrap_or(false);
    let operation_id = c.update(edge::UpdateOperation::PayloadOperation(op), wait)?;
    Ok(update_response(operation_id, wait, t))
}

/// The index schema, as the real server's `convert_field_type` (plain field types only).
fn field_schema(
    field_type: Option<i32>,
    params: Option<pb::PayloadIndexParams>,
) -> Result<Option<edge::PayloadFieldSchema>, Status> {
    use edge::PayloadSchemaType as T;
    let Some(field_type) = field_type else {
        return Err(Status::invalid_argument("cannot convert field_type"));
    };
    if params.is_some_and(|p| p.index_params.is_some()) {
        return Err(unimplemented("field_index_params (only plain field types)"));
    }
    let Ok(field_type) = pb::FieldType::try_from(field_type) else {
        return Ok(None);
    };
    Ok(Some(edge::PayloadFieldSchema::FieldType(match field_type {
        pb::FieldType::Keyword => T::Keyword,
        pb::FieldType::Integer => T::Integer,
        pb::FieldType::Float => T::Float,
        pb::FieldType::Geo => T::Geo,
        pb::FieldType::Text => T::Text,
        pb::FieldType::Bool => T::Bool,
        pb::FieldType::Datetime => T::Datetime,
        pb::FieldType::Uuid => T::Uuid,
    })))
}

fn create_field_index(
    s: &Shared,
    r: pb::CreateFieldIndexCollection,
) -> Result<pb::PointsOperationResponse, Status> {
    let t = Instant::now();
    let c = s.store.get(&r.collection_name)?;
    let op = edge::FieldIndexOperations::CreateIndex(edge::CreateIndex {
        field_name: json_path(&r.field_name)?,
        field_schema: field_schema(r.field_type, r.field_index_params)?,
    });
    let wait = r.wait.unwrap_or(false);
    let operation_id = c.update(edge::UpdateOperation::FieldIndexOperation(op), wait)?;
    Ok(update_response(operation_id, wait, t))
}

fn delete_field_index(
    s: &Shared,
    r: pb::DeleteFieldIndexCollection,
) -> Result<pb::PointsOperationResponse, Status> {
    let t = Instant::now();
    let c = s.store.get(&r.collection_name)?;
    let op = edge::FieldIndexOperations::DeleteIndex(json_path(&r.field_name)?);
    let wait = r.wait.unwrap_or(false);
    let operation_id = c.update(edge::UpdateOperation::FieldIndexOperation(op), wait)?;
    Ok(update_response(operation_id, wait, t))
}

fn search(s: &Shared, r: pb::SearchPoints) -> Result<pb::SearchResponse, Status> {
    let t = Instant::now();
    let pb::SearchPoints {
        collection_name,
        vector,
        filter,
        limit,
        with_payload,
        params,
        score_threshold,
        offset,
        vector_name,
        with_vectors,
        read_consistency: _,
        timeout: _,
        shard_key_selector,
        sparse_indices,
    } = r;
    refuse_shard_keys(shard_key_selector.as_ref())?;
    if sparse_indices.is_some() {
        return Err(unimplemented("sparse vectors (sparse_indices)"));
    }
    let c = s.store.get(&collection_name)?;
    let result = nearest(
        &c,
        Nearest {
            using: vector_name.unwrap_or_default(),
            vector,
            filter,
            params,
            limit: limit as usize,
            offset: offset.unwrap_or(0) as usize,
            score_threshold,
            with_payload,
            with_vectors,
        },
    )?;
    Ok(pb::SearchResponse {
        result,
        time: elapsed(t),
        usage: None,
    })
}

fn query_kind(v: &pb::query::Variant) -> &'static str {
    use pb::query::Variant as V;
    match v {
        V::Nearest(_) => "nearest",
        V::Recommend(_) => "recommend",
        V::Discover(_) => "discover",
        V::Context(_) => "context",
        V::OrderBy(_) => "order_by",
        V::Fusion(_) => "fusion",
        V::Sample(_) => "sample",
        V::Formula(_) => "formula",
        V::NearestWithMmr(_) => "nearest_with_mmr",
        V::Rrf(_) => "rrf",
        V::RelevanceFeedback(_) => "relevance_feedback",
        V::Text(_) => "text",
    }
}

fn query(s: &Shared, r: pb::QueryPoints) -> Result<pb::QueryResponse, Status> {
    use pb::query::Variant;
    use pb::vector_input::Variant as Input;
    let t = Instant::now();
    let pb::QueryPoints {
        collection_name,
        prefetch,
        query,
        using,
        filter,
        params,
        score_threshold,
        limit,
        offset,
        with_vectors,
        with_payload,
        read_consistency: _,
        shard_key_selector,
        lookup_from,
        timeout: _,
    } = r;
    refuse_shard_keys(shard_key_selector.as_ref())?;
    if !prefetch.is_empty() {
        return Err(unimplemented("prefetch in queries"));
    }
    if lookup_from.is_some() {
        return Err(unimplemented("lookup_from in queries"));
    }
    let vector = match query.and_then(|q| q.variant) {
        Some(Variant::Nearest(pb::VectorInput {
            variant: Some(Input::Dense(d)),
        })) => d.data,
        Some(Variant::Nearest(pb::VectorInput {
            variant: Some(Input::Id(_)),
        })) => return Err(unimplemented("nearest queries by point id")),
        Some(Variant::Nearest(_)) => {
            return Err(unimplemented("nearest queries with anything but a dense vector"));
        }
        Some(other) => return Err(unimplemented(format!("`{}` queries", query_kind(&other)))),
        None => return Err(unimplemented("queries without a query")),
    };
    let c = s.store.get(&collection_name)?;
    let result = nearest(
        &c,
        Nearest {
            using: using.unwrap_or_default(),
            vector,
            filter,
            params,
            limit: limit.map_or(10, |l| l as usize),
            offset: offset.unwrap_or(0) as usize,
            score_threshold,
            with_payload,
            with_vectors,
        },
    )?;
    Ok(pb::QueryResponse {
        result,
        time: elapsed(t),
        usage: None,
    })
}

fn scroll(s: &Shared, r: pb::ScrollPoints) -> Result<pb::ScrollResponse, Status> {
    let t = Instant::now();
    refuse_shard_keys(r.shard_key_selector.as_ref())?;
    if r.order_by.is_some() {
        return Err(unimplemented("scroll with order_by"));
    }
    let c = s.store.get(&r.collection_name)?;
    let request = edge::ScrollRequest {
        offset: r.offset.map(point_id_from_proto).transpose()?,
        limit: r.limit.map(|l| l as usize),
        filter: filter_from_proto(r.filter)?,
        with_payload: with_payload_from_proto(r.with_payload)?,
        with_vector: with_vector_from_proto(r.with_vectors),
        order_by: None,
    };
    let (records, next) = c.read(|shard| shard.scroll(request).map_err(edge_error))?;
    Ok(pb::ScrollResponse {
        next_page_offset: next.map(point_id_to_proto),
        result: records.into_iter().map(retrieved_point).collect(),
        time: elapsed(t),
        usage: None,
    })
}

fn count(s: &Shared, r: pb::CountPoints) -> Result<pb::CountResponse, Status> {
    let t = Instant::now();
    refuse_shard_keys(r.shard_key_selector.as_ref())?;
    let c = s.store.get(&r.collection_name)?;
    let request = edge::CountRequest {
        filter: filter_from_proto(r.filter)?,
        exact: r.exact.unwrap_or(true),
    };
    let count = c.read(|shard| shard.count(request).map_err(edge_error))?;
    Ok(pb::CountResponse {
        result: Some(pb::CountResult { count: count as u64 }),
        time: elapsed(t),
        usage: None,
    })
}

// ---------------------------------------------------------------------------------------------
// The trait impls: implemented methods delegate to the handlers above; the rest say
// `Unimplemented`, naming themselves.

macro_rules! service {
    (
        impl $trait:ident {
            $( $name:ident($req:ty) -> $resp:ty = $path:literal => $handler:expr; )*
        }
        refused {
            $( $rname:ident($rreq:ty) -> $rresp:ty = $rpath:literal; )*
        }
    ) => {
        #[tonic::async_trait]
        impl $trait for Service {
            $(
                async fn $name(&self, request: Request<$req>) -> Result<Response<$resp>, Status> {
                    self.run(request, $path, $handler).await
                }
            )*
            $(
                async fn $rname(&self, request: Request<$rreq>) -> Result<Response<$rresp>, Status> {
                    self.refuse(request, $rpath).await
                }
            )*
        }
    };
}

service! {
    impl Qdrant {
        health_check(pb::HealthCheckRequest) -> pb::HealthCheckReply = "Qdrant/HealthCheck" =>
            |_: &Shared, _| Ok(pb::HealthCheckReply {
                title: "qdrant - vector search engine".into(),
                version: crate::SERVER_VERSION.into(),
                commit: None,
            });
    }
    refused {}
}

service! {
    impl Collections {
        get(pb::GetCollectionInfoRequest) -> pb::GetCollectionInfoResponse = "Collections/Get" => collection_info;
        list(pb::ListCollectionsRequest) -> pb::ListCollectionsResponse = "Collections/List" => list_collections;
        create(pb::CreateCollection) -> pb::CollectionOperationResponse = "Collections/Create" => create_collection;
        delete(pb::DeleteCollection) -> pb::CollectionOperationResponse = "Collections/Delete" => delete_collection;
        collection_exists(pb::CollectionExistsRequest) -> pb::CollectionExistsResponse = "Collections/CollectionExists" => collection_exists;
    }
    refused {
        update(pb::UpdateCollection) -> pb::CollectionOperationResponse = "Collections/Update";
        update_aliases(pb::ChangeAliases) -> pb::CollectionOperationResponse = "Collections/UpdateAliases";
        list_collection_aliases(pb::ListCollectionAliasesRequest) -> pb::ListAliasesResponse = "Collections/ListCollectionAliases";
        list_aliases(pb::ListAliasesRequest) -> pb::ListAliasesResponse = "Collections/ListAliases";
        collection_cluster_info(pb::CollectionClusterInfoRequest) -> pb::CollectionClusterInfoResponse = "Collections/CollectionClusterInfo";
        update_collection_cluster_setup(pb::UpdateCollectionClusterSetupRequest) -> pb::UpdateCollectionClusterSetupResponse = "Collections/UpdateCollectionClusterSetup";
        create_shard_key(pb::CreateShardKeyRequest) -> pb::CreateShardKeyResponse = "Collections/CreateShardKey";
        delete_shard_key(pb::DeleteShardKeyRequest) -> pb::DeleteShardKeyResponse = "Collections/DeleteShardKey";
        list_shard_keys(pb::ListShardKeysRequest) -> pb::ListShardKeysResponse = "Collections/ListShardKeys";
    }
}

service! {
    impl Points {
        upsert(pb::UpsertPoints) -> pb::PointsOperationResponse = "Points/Upsert" => upsert;
        delete(pb::DeletePoints) -> pb::PointsOperationResponse = "Points/Delete" => delete_points;
        get(pb::GetPoints) -> pb::GetResponse = "Points/Get" => get_points;
        set_payload(pb::SetPayloadPoints) -> pb::PointsOperationResponse = "Points/SetPayload" =>
            |s: &Shared, r| set_payload(s, r, false);
        overwrite_payload(pb::SetPayloadPoints) -> pb::PointsOperationResponse = "Points/OverwritePayload" =>
            |s: &Shared, r| set_payload(s, r, true);
        delete_payload(pb::DeletePayloadPoints) -> pb::PointsOperationResponse = "Points/DeletePayload" => delete_payload;
        clear_payload(pb::ClearPayloadPoints) -> pb::PointsOperationResponse = "Points/ClearPayload" => clear_payload;
        create_field_index(pb::CreateFieldIndexCollection) -> pb::PointsOperationResponse = "Points/CreateFieldIndex" => create_field_index;
        delete_field_index(pb::DeleteFieldIndexCollection) -> pb::PointsOperationResponse = "Points/DeleteFieldIndex" => delete_field_index;
        search(pb::SearchPoints) -> pb::SearchResponse = "Points/Search" => search;
        scroll(pb::ScrollPoints) -> pb::ScrollResponse = "Points/Scroll" => scroll;
        count(pb::CountPoints) -> pb::CountResponse = "Points/Count" => count;
        query(pb::QueryPoints) -> pb::QueryResponse = "Points/Query" => query;
    }
    refused {
        update_vectors(pb::UpdatePointVectors) -> pb::PointsOperationResponse = "Points/UpdateVectors";
        delete_vectors(pb::DeletePointVectors) -> pb::PointsOperationResponse = "Points/DeleteVectors";
        create_vector_name(pb::CreateVectorNameRequest) -> pb::PointsOperationResponse = "Points/CreateVectorName";
        delete_vector_name(pb::DeleteVectorNameRequest) -> pb::PointsOperationResponse = "Points/DeleteVectorName";
        search_batch(pb::SearchBatchPoints) -> pb::SearchBatchResponse = "Points/SearchBatch";
        search_groups(pb::SearchPointGroups) -> pb::SearchGroupsResponse = "Points/SearchGroups";
        recommend(pb::RecommendPoints) -> pb::RecommendResponse = "Points/Recommend";
        recommend_batch(pb::RecommendBatchPoints) -> pb::RecommendBatchResponse = "Points/RecommendBatch";
        recommend_groups(pb::RecommendPointGroups) -> pb::RecommendGroupsResponse = "Points/RecommendGroups";
        discover(pb::DiscoverPoints) -> pb::DiscoverResponse = "Points/Discover";
        discover_batch(pb::DiscoverBatchPoints) -> pb::DiscoverBatchResponse = "Points/DiscoverBatch";
        update_batch(pb::UpdateBatchPoints) -> pb::UpdateBatchResponse = "Points/UpdateBatch";
        query_batch(pb::QueryBatchPoints) -> pb::QueryBatchResponse = "Points/QueryBatch";
        query_groups(pb::QueryPointGroups) -> pb::QueryGroupsResponse = "Points/QueryGroups";
        facet(pb::FacetCounts) -> pb::FacetResponse = "Points/Facet";
        search_matrix_pairs(pb::SearchMatrixPoints) -> pb::SearchMatrixPairsResponse = "Points/SearchMatrixPairs";
        search_matrix_offsets(pb::SearchMatrixPoints) -> pb::SearchMatrixOffsetsResponse = "Points/SearchMatrixOffsets";
    }
}

service! {
    impl Snapshots {}
    refused {
        create(pb::CreateSnapshotRequest) -> pb::CreateSnapshotResponse = "Snapshots/Create";
        list(pb::ListSnapshotsRequest) -> pb::ListSnapshotsResponse = "Snapshots/List";
        delete(pb::DeleteSnapshotRequest) -> pb::DeleteSnapshotResponse = "Snapshots/Delete";
        create_full(pb::CreateFullSnapshotRequest) -> pb::CreateSnapshotResponse = "Snapshots/CreateFull";
        list_full(pb::ListFullSnapshotsRequest) -> pb::ListSnapshotsResponse = "Snapshots/ListFull";
        delete_full(pb::DeleteFullSnapshotRequest) -> pb::DeleteSnapshotResponse = "Snapshots/DeleteFull";
    }
}
