//! Collections on disk: one Edge shard per collection in `dir/<name>`, plus a small JSON file
//! beside the shard's own files that keeps what `CreateCollection` sent (so `Collections/Get`
//! reports the same configuration and metadata after a restart).

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use base64::Engine as _;
use prost::Message as _;
use qdrant_client::qdrant as pb;
use qdrant_edge as edge;
use serde_json::{Value as Json, json};
use tonic::Status;

use crate::Error;
use crate::convert::{self, unimplemented};

/// The file, in each collection's directory, that marks it as a loopback collection.
const META_FILE: &str = "loopback-collection.json";
const META_FORMAT: u64 = 1;
/// WAL segment size when `CreateCollection` does not set one (Qdrant's default is 32 MiB; a test
/// server creates many small collections).
const DEFAULT_WAL_CAPACITY_MB: u64 = 4;

pub fn not_found(name: &str) -> Status {
    Status::not_found(format!("Not found: Collection `{name}` doesn't exist!"))
}

/// Maps an Edge error to the status the real server sends for it (Qdrant's
/// `OperationError -> CollectionError -> StorageError -> Status` conversions).
pub fn edge_error(e: edge::OperationError) -> Status {
    use edge::OperationError as E;
    match e {
        E::WrongVectorDimension { .. }
        | E::VectorNameNotExists { .. }
        | E::TypeError { .. }
        | E::TypeInferenceError { .. }
        | E::ValidationError { .. }
        | E::MissingRangeIndexForOrderBy { .. }
        | E::MissingMapIndexForFacet { .. }
        | E::VariableTypeError { .. }
        | E::NonFiniteNumber { .. } => Status::invalid_argument(format!("Wrong input: {e}")),
        E::WrongSparse => {
            Status::invalid_argument("Wrong input: Conversion between sparse and regular vectors failed")
        }
        E::WrongMulti => {
            Status::invalid_argument("Wrong input: Conversion between multi and regular vectors failed")
        }
        E::PointIdError { missed_point_id } => {
            Status::not_found(format!("Not found: No point with id {missed_point_id} found"))
        }
        E::ServiceError { description, .. } => {
            Status::internal(format!("Service internal error: {description}"))
        }
        E::Cancelled { description } => Status::internal(format!(
            "Service internal error: Operation cancelled: {description}"
        )),
        E::Timeout { .. } => Status::deadline_exceeded(format!("Timeout: {e}")),
        E::InconsistentStorage { .. } | E::OutOfMemory { .. } => {
            Status::internal(format!("Service internal error: {e}"))
        }
    }
}

/// What `CreateCollection` sent, kept beside the shard.
pub struct Meta {
    /// The request, with `metadata` moved out.
    pub create: pb::CreateCollection,
    pub metadata: HashMap<String, pb::Value>,
    pub created_at: Option<prost_types::Timestamp>,
}

impl Meta {
    fn to_json(&self) -> Result<Json, Status> {
        let metadata = convert::proto_map_to_json(self.metadata.clone())?;
        Ok(json!({
            "format": META_FORMAT,
            "written_by": "loupe-qdrant-loopback (a test server, not Qdrant)",
            "created_at": self.created_at.map(|t| json!({"seconds": t.seconds, "nanos": t.nanos})),
            "metadata": metadata,
            // The CreateCollection request as protobuf, base64: it has no JSON form in qdrant-client.
            "create_collection": base64::engine::general_purpose::STANDARD.encode(self.create.encode_to_vec()),
        }))
    }

    fn from_json(j: &Json) -> Result<Self, String> {
        if j["format"].as_u64() != Some(META_FORMAT) {
            return Err(format!("unknown format {}", j["format"]));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(j["create_collection"].as_str().unwrap_or_default())
            .map_err(|e| format!("create_collection: {e}"))?;
        let create =
            pb::CreateCollection::decode(bytes.as_slice()).map_err(|e| format!("create_collection: {e}"))?;
        let metadata = match &j["metadata"] {
            Json::Object(m) => m
                .iter()
                .map(|(k, v)| (k.clone(), convert::json_to_proto(v.clone())))
                .collect(),
            _ => HashMap::new(),
        };
        let created_at = j["created_at"]["seconds"]
            .as_i64()
            .map(|seconds| prost_types::Timestamp {
                seconds,
                nanos: j["created_at"]["nanos"].as_i64().unwrap_or(0) as i32,
            });
        Ok(Self {
            create,
            metadata,
            created_at,
        })
    }

    fn save(&self, dir: &Path) -> Result<(), Status> {
        let text = serde_json::to_string_pretty(&self.to_json()?)
            .map_err(|e| Status::internal(format!("Service internal error: {e}")))?;
        let tmp = dir.join(format!("{META_FILE}.tmp"));
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, dir.join(META_FILE)))
            .map_err(|e| Status::internal(format!("Service internal error: writing {}: {e}", dir.display())))
    }

    fn load(dir: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(dir.join(META_FILE)).map_err(|e| e.to_string())?;
        let j: Json = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        Self::from_json(&j)
    }
}

/// One collection: its Edge shard and what created it.
pub struct Collection {
    pub name: String,
    pub meta: Meta,
    /// `None` once the collection is closed or deleted; holders of a stale `Arc` get `NotFound`.
    /// Writes (and flushes) take the write lock: Edge's `flush` expects no concurrent update.
    shard: RwLock<Option<edge::EdgeShard>>,
    next_operation: AtomicU64,
    /// Written to since the last optimization.
    dirty: std::sync::atomic::AtomicBool,
    /// An optimization (HNSW build) runs in the background.
    optimizing: Arc<std::sync::atomic::AtomicBool>,
}

impl Collection {
    fn new(name: String, meta: Meta, shard: edge::EdgeShard) -> Self {
        Self {
            name,
            meta,
            shard: RwLock::new(Some(shard)),
            next_operation: AtomicU64::new(0),
            dirty: std::sync::atomic::AtomicBool::new(false),
            optimizing: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }

    fn read_guard(&self) -> RwLockReadGuard<'_, Option<edge::EdgeShard>> {
        self.shard.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_guard(&self) -> RwLockWriteGuard<'_, Option<edge::EdgeShard>> {
        self.shard.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs a read on the shard.
    pub fn read<R>(&self, f: impl FnOnce(&edge::EdgeShard) -> Result<R, Status>) -> Result<R, Status> {
        let guard = self.read_guard();
        let shard = guard.as_ref().ok_or_else(|| not_found(&self.name))?;
        f(shard)
    }

    /// Applies an update; when `wait`, flushes it to disk before returning. Returns the operation
    /// id (counted per collection from 0 at every start).
    pub fn update(&self, op: edge::UpdateOperation, wait: bool) -> Result<u64, Status> {
        let guard = self.write_guard();
        let shard = guard.as_ref().ok_or_else(|| not_found(&self.name))?;
        shard.update(op).map_err(edge_error)?;
        self.dirty.store(true, Ordering::SeqCst);
        if wait {
            shard.flush();
        }
        Ok(self.next_operation.fetch_add(1, Ordering::Relaxed))
    }

    /// Flushes and closes the shard.
    fn close(&self) {
        // Dropping an EdgeShard flushes it.
        drop(self.write_guard().take());
    }

    /// Like the real server's optimizers, which build HNSW in the background after writes and
    /// report the collection yellow meanwhile: a look at a collection written since its last
    /// optimization starts one (Edge's `optimize`, on a thread; searches go on, writes wait) and
    /// says yellow until it is done.
    fn status(self: &Arc<Self>) -> pb::CollectionStatus {
        if self.optimizing.load(Ordering::SeqCst) {
            return pb::CollectionStatus::Yellow;
        }
        if !self.dirty.swap(false, Ordering::SeqCst) {
            return pb::CollectionStatus::Green;
        }
        self.optimizing.store(true, Ordering::SeqCst);
        let me = self.clone();
        std::thread::spawn(move || {
            {
                let guard = me.read_guard();
                if let Some(shard) = guard.as_ref() {
                    let _ = shard.optimize();
                }
            }
            me.optimizing.store(false, Ordering::SeqCst);
        });
        pb::CollectionStatus::Yellow
    }

    /// `CollectionInfo` as the real server fills it.
    pub fn info(self: &Arc<Self>) -> Result<pb::CollectionInfo, Status> {
        let status = self.status();
        let (info, config) = self.read(|shard| Ok((shard.info(), shard.config().clone())))?;
        let create = &self.meta.create;
        #[allow(deprecated)]
        let params = pb::CollectionParams {
            shard_number: create.shard_number.unwrap_or(1),
            on_disk_payload: config.on_disk_payload,
            vectors_config: create.vectors_config.clone(),
            replication_factor: Some(create.replication_factor.unwrap_or(1)),
            write_consistency_factor: Some(create.write_consistency_factor.unwrap_or(1)),
            read_fan_out_factor: None,
            sharding_method: create.sharding_method,
            sparse_vectors_config: None,
            read_fan_out_delay_ms: None,
            payload: create.payload,
            id_tracker: create.id_tracker,
        };
        let h = config.hnsw_config;
        #[allow(deprecated)]
        let hnsw_config = pb::HnswConfigDiff {
            m: Some(h.m as u64),
            ef_construct: Some(h.ef_construct as u64),
            full_scan_threshold: Some(h.full_scan_threshold as u64),
            max_indexing_threads: Some(h.max_indexing_threads as u64),
            on_disk: h.on_disk,
            payload_m: h.payload_m.map(|m| m as u64),
            inline_storage: h.inline_storage,
            memory: None,
        };
        // What the request set, over Qdrant's defaults.
        let sent = create.optimizers_config.unwrap_or_default();
        let optimizer_config = pb::OptimizersConfigDiff {
            deleted_threshold: sent.deleted_threshold.or(Some(0.2)),
            vacuum_min_vector_number: sent.vacuum_min_vector_number.or(Some(1000)),
            default_segment_number: sent.default_segment_number.or(Some(0)),
            indexing_threshold: sent.indexing_threshold.or(Some(10000)),
            flush_interval_sec: sent.flush_interval_sec.or(Some(5)),
            ..sent
        };
        let wal = create.wal_config.unwrap_or_default();
        let wal_config = pb::WalConfigDiff {
            wal_capacity_mb: Some(wal.wal_capacity_mb.unwrap_or(DEFAULT_WAL_CAPACITY_MB)),
            wal_segments_ahead: Some(wal.wal_segments_ahead.unwrap_or(0)),
            wal_retain_closed: Some(wal.wal_retain_closed.unwrap_or(1)),
        };
        let payload_schema = info
            .payload_schema
            .into_iter()
            .map(|(key, index)| {
                (
                    key.to_string(),
                    pb::PayloadSchemaInfo {
                        data_type: schema_type_to_proto(index.data_type) as i32,
                        params: None,
                        points: Some(index.points as u64),
                    },
                )
            })
            .collect();
        Ok(pb::CollectionInfo {
            status: status as i32,
            optimizer_status: Some(pb::OptimizerStatus {
                ok: true,
                error: String::new(),
            }),
            segments_count: info.segments_count as u64,
            config: Some(pb::CollectionConfig {
                params: Some(params),
                hnsw_config: Some(hnsw_config),
                optimizer_config: Some(optimizer_config),
                wal_config: Some(wal_config),
                quantization_config: create.quantization_config,
                strict_mode_config: Some(create.strict_mode_config.clone().unwrap_or(pb::StrictModeConfig {
                    enabled: Some(false),
                    ..Default::default()
                })),
                metadata: self.meta.metadata.clone(),
            }),
            payload_schema,
            points_count: Some(info.points_count as u64),
            indexed_vectors_count: Some(info.indexed_vectors_count as u64),
            warnings: Vec::new(),
            update_queue: Some(pb::UpdateQueueInfo {
                length: 0,
                deferred_points: None,
            }),
            created_at: self.meta.created_at,
        })
    }
}

pub fn schema_type_to_proto(t: edge::PayloadSchemaType) -> pb::PayloadSchemaType {
    use edge::PayloadSchemaType as E;
    use pb::PayloadSchemaType as P;
    match t {
        E::Keyword => P::Keyword,
        E::Integer => P::Integer,
        E::Float => P::Float,
        E::Geo => P::Geo,
        E::Text => P::Text,
        E::Bool => P::Bool,
        E::Datetime => P::Datetime,
        E::Uuid => P::Uuid,
    }
}

/// Every collection of one data directory.
pub struct Store {
    dir: PathBuf,
    collections: RwLock<BTreeMap<String, Arc<Collection>>>,
}

impl Store {
    pub fn open(dir: &Path) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let collections = load_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            collections: RwLock::new(collections),
        })
    }

    fn map(&self) -> RwLockReadGuard<'_, BTreeMap<String, Arc<Collection>>> {
        self.collections.read().unwrap_or_else(|e| e.into_inner())
    }

    fn map_mut(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Arc<Collection>>> {
        self.collections.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Flushes and closes every shard; the store serves nothing until [`Self::reopen`].
    pub fn close(&self) {
        let closed = std::mem::take(&mut *self.map_mut());
        for collection in closed.values() {
            collection.close();
        }
    }

    /// Opens every collection stored on disk again.
    pub fn reopen(&self) -> Result<(), Error> {
        let loaded = load_all(&self.dir)?;
        let previous = std::mem::replace(&mut *self.map_mut(), loaded);
        for collection in previous.values() {
            collection.close();
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Result<Arc<Collection>, Status> {
        self.map().get(name).cloned().ok_or_else(|| not_found(name))
    }

    pub fn exists(&self, name: &str) -> bool {
        self.map().contains_key(name)
    }

    pub fn names(&self) -> Vec<String> {
        self.map().keys().cloned().collect()
    }

    pub fn create(&self, mut request: pb::CreateCollection) -> Result<(), Status> {
        let name = request.collection_name.clone();
        validate_name(&name)?;
        let config = edge_config(&request)?;
        let mut map = self.map_mut();
        if map.contains_key(&name) {
            return Err(Status::already_exists(format!(
                "Wrong input: Collection `{name}` already exists!"
            )));
        }
        let path = self.dir.join(&name);
        if path.exists() {
            if path.join(META_FILE).exists() {
                return Err(Status::invalid_argument(format!(
                    "Wrong input: Can't create collection with name {name}. Collection data already exists at {}",
                    path.display()
                )));
            }
            std::fs::remove_dir_all(&path).map_err(|e| {
                Status::internal(format!(
                    "Service internal error: removing {}: {e}",
                    path.display()
                ))
            })?;
        }
        std::fs::create_dir_all(&path).map_err(|e| {
            Status::internal(format!(
                "Service internal error: creating {}: {e}",
                path.display()
            ))
        })?;
        let result = (|| {
            let shard = edge::EdgeShard::new(&path, config).map_err(edge_error)?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            let meta = Meta {
                metadata: std::mem::take(&mut request.metadata),
                create: request,
                created_at: Some(prost_types::Timestamp {
                    seconds: now.as_secs() as i64,
                    nanos: now.subsec_nanos() as i32,
                }),
            };
            meta.save(&path)?;
            shard.flush();
            Ok(Collection::new(name.clone(), meta, shard))
        })();
        match result {
            Ok(collection) => {
                map.insert(name, Arc::new(collection));
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&path);
                Err(e)
            }
        }
    }

    /// Deletes a collection and its files; `false` if there was none.
    pub fn delete(&self, name: &str) -> Result<bool, Status> {
        let Some(collection) = self.map_mut().remove(name) else {
            return Ok(false);
        };
        collection.close();
        let path = self.dir.join(name);
        std::fs::remove_dir_all(&path).map_err(|e| {
            Status::internal(format!(
                "Service internal error: removing {}: {e}",
                path.display()
            ))
        })?;
        Ok(true)
    }
}

fn load_all(dir: &Path) -> Result<BTreeMap<String, Arc<Collection>>, Error> {
    let mut out = BTreeMap::new();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
            continue;
        };
        if !path.join(META_FILE).is_file() {
            continue;
        }
        let fail = |message: String| Error::Collection {
            name: name.clone(),
            path: path.clone(),
            message,
        };
        let meta = Meta::load(&path).map_err(|e| fail(format!("reading {META_FILE}: {e}")))?;
        let shard =
            edge::EdgeShard::load(&path, None).map_err(|e| fail(format!("loading the Edge shard: {e}")))?;
        out.insert(name.clone(), Arc::new(Collection::new(name, meta, shard)));
    }
    Ok(out)
}

/// Qdrant's collection-name rules (length 1..=255, no filesystem-unsafe characters), plus the
/// names that would not be a directory of their own.
fn validate_name(name: &str) -> Result<(), Status> {
    let invalid = |message: String| {
        Status::invalid_argument(format!("Validation error in body: [collection_name: {message}]"))
    };
    if name.is_empty() || name.len() > 255 {
        return Err(invalid(format!(
            "value {} invalid, must be from 1 to 255 characters",
            json!(name)
        )));
    }
    const INVALID: [char; 11] = ['<', '>', ':', '"', '/', '\\', '|', '?', '*', '\0', '\u{1F}'];
    if let Some(c) = INVALID.into_iter().find(|c| name.contains(*c)) {
        return Err(invalid(format!("collection name cannot contain \"{c}\" char")));
    }
    if name == "." || name == ".." {
        return Err(invalid(format!(
            "qdrant-loopback cannot store a collection named \"{name}\""
        )));
    }
    Ok(())
}

fn enum_value<T: TryFrom<i32>>(v: i32, what: &str) -> Result<T, Status> {
    T::try_from(v).map_err(|_| Status::invalid_argument(format!("Malformed {what}: {v}")))
}

/// `on_disk` from the deprecated flag and the `memory` placement that overrides it.
fn on_disk(flag: Option<bool>, memory: Option<i32>, what: &str) -> Result<Option<bool>, Status> {
    let Some(memory) = memory else {
        return Ok(flag);
    };
    Ok(match enum_value::<pb::Memory>(memory, "memory")? {
        pb::Memory::Unknown => flag,
        pb::Memory::Cold | pb::Memory::Cached => Some(true),
        pb::Memory::Pinned => {
            return Err(Status::invalid_argument(format!(
                "Validation error in body: [{what}: `pinned` memory is not supported here]"
            )));
        }
    })
}

fn vector_params(name: &str, p: &pb::VectorParams) -> Result<edge::EdgeVectorParams, Status> {
    let what = if name.is_empty() {
        "vectors_config.params".to_string()
    } else {
        format!("vectors_config.params_map.{name}")
    };
    if !(1..=65536).contains(&p.size) {
        return Err(Status::invalid_argument(format!(
            "Validation error in body: [{what}.size: value {} invalid, must be from 1 to 65536]",
            p.size
        )));
    }
    let distance = match pb::Distance::try_from(p.distance) {
        Ok(pb::Distance::Cosine) => edge::Distance::Cosine,
        Ok(pb::Distance::Euclid) => edge::Distance::Euclid,
        Ok(pb::Distance::Dot) => edge::Distance::Dot,
        Ok(pb::Distance::Manhattan) => edge::Distance::Manhattan,
        Ok(pb::Distance::UnknownDistance) => {
            return Err(Status::invalid_argument(
                "Malformed distance parameter: UnknownDistance",
            ));
        }
        Err(_) => {
            return Err(Status::invalid_argument(format!(
                "Malformed distance parameter, unexpected value: {}",
                p.distance
            )));
        }
    };
    if p.multivector_config.is_some() {
        return Err(unimplemented(format!("multi vectors ({what})")));
    }
    let datatype = match p.datatype {
        None => None,
        Some(d) => match enum_value::<pb::Datatype>(d, "datatype")? {
            pb::Datatype::Default => None,
            pb::Datatype::Float32 => Some(edge::VectorStorageDatatype::Float32),
            pb::Datatype::Float16 => Some(edge::VectorStorageDatatype::Float16),
            pb::Datatype::Uint8 => Some(edge::VectorStorageDatatype::Uint8),
            other => {
                return Err(unimplemented(format!(
                    "the {} vector datatype ({what})",
                    other.as_str_name()
                )));
            }
        },
    };
    #[allow(deprecated)]
    let on_disk = on_disk(p.on_disk, p.memory, &what)?;
    Ok(edge::EdgeVectorParams {
        size: p.size as usize,
        distance,
        on_disk,
        multivector_config: None,
        datatype,
        // Index settings are echoed from the request; the loopback never builds indexes.
        quantization_config: None,
        hnsw_config: None,
    })
}

fn edge_config(request: &pb::CreateCollection) -> Result<edge::EdgeConfig, Status> {
    use pb::vectors_config::Config;
    let mut vectors = HashMap::new();
    match request.vectors_config.as_ref().and_then(|c| c.config.as_ref()) {
        None => {}
        Some(Config::Params(p)) => {
            vectors.insert(String::new(), vector_params("", p)?);
        }
        Some(Config::ParamsMap(m)) => {
            for (name, p) in &m.map {
                vectors.insert(name.clone(), vector_params(name, p)?);
            }
        }
    }
    if request
        .sparse_vectors_config
        .as_ref()
        .is_some_and(|s| !s.map.is_empty())
    {
        return Err(unimplemented("sparse vectors (sparse_vectors_config)"));
    }
    if let Some(method) = request.sharding_method
        && enum_value::<pb::ShardingMethod>(method, "sharding_method")? != pb::ShardingMethod::Auto
    {
        return Err(unimplemented("custom sharding (sharding_method)"));
    }
    if request
        .strict_mode_config
        .as_ref()
        .is_some_and(|s| s.enabled == Some(true))
    {
        return Err(unimplemented("strict mode (strict_mode_config.enabled)"));
    }
    #[allow(deprecated)]
    let on_disk_payload = on_disk(
        request.on_disk_payload,
        request.payload.and_then(|p| p.memory),
        "payload",
    )?
    .unwrap_or(true);
    let mut hnsw = edge::HnswIndexConfig::default();
    if let Some(h) = &request.hnsw_config {
        if let Some(m) = h.m {
            hnsw.m = m as usize;
        }
        if let Some(ef) = h.ef_construct {
            hnsw.ef_construct = ef as usize;
        }
        if let Some(t) = h.full_scan_threshold {
            hnsw.full_scan_threshold = t as usize;
        }
        if let Some(t) = h.max_indexing_threads {
            hnsw.max_indexing_threads = t as usize;
        }
        #[allow(deprecated)]
        let flag = h.on_disk;
        if let Some(d) = on_disk(flag, h.memory, "hnsw_config")? {
            hnsw.on_disk = Some(d);
        }
        if let Some(m) = h.payload_m {
            hnsw.payload_m = Some(m as usize);
        }
        if let Some(i) = h.inline_storage {
            hnsw.inline_storage = Some(i);
        }
    }
    let wal = request.wal_config.unwrap_or_default();
    let wal_options = edge::WalOptions {
        segment_capacity: (wal.wal_capacity_mb.unwrap_or(DEFAULT_WAL_CAPACITY_MB).max(1) as usize)
            * 1024
            * 1024,
        segment_queue_len: wal.wal_segments_ahead.unwrap_or(0) as usize,
        retain_closed: NonZeroUsize::new(wal.wal_retain_closed.unwrap_or(1) as usize)
            .unwrap_or(NonZeroUsize::MIN),
    };
    Ok(edge::EdgeConfig {
        on_disk_payload,
        vectors,
        sparse_vectors: HashMap::new(),
        hnsw_config: hnsw,
        quantization_config: None,
        optimizers: edge::EdgeOptimizersConfig::default(),
        wal_options: Some(wal_options),
    })
}
