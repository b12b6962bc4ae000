//! A Qdrant server or cluster, through the official `qdrant-client` (gRPC): the scale-out backend.
//!
//! Same data model as [`super::EdgeBackend`]: one collection, one named vector per space (size from
//! the model, cosine), the same point ids and payload, a payload index on every filtered field.
//! The collection's metadata names the models that wrote it, so a collection made by another model
//! or dimension is refused, never overwritten.
//!
//! Every call goes through [`QdrantBackend::call`]: transient gRPC errors (unavailable, deadline
//! exceeded, resource exhausted, aborted) are retried with capped exponential backoff and full
//! jitter; permanent ones (bad key, wrong dimension, missing collection) fail at once with a message
//! a user can act on. Writes wait for the server (`wait = true`), so the store's commit protocol
//! (vectors durable before the catalog commits) holds as it does in process.

use super::{
    Condition, FieldType, INDEXED_FIELDS, Location, Page, Point, Scored, Space, VectorBackend, VectorQuery,
    asset_condition, conditions, payload_from_json, payload_json,
};
use crate::{Error, Result};
use loupe_schemas::{AssetId, Uuid};
use qdrant_client::qdrant::{
    self as q, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    DeletePointsBuilder, GetPointsBuilder, HnswConfigDiffBuilder, QuantizationSearchParamsBuilder, Query,
    QueryPointsBuilder, ScalarQuantizationBuilder, ScrollPointsBuilder, SearchParamsBuilder,
    SetPayloadPointsBuilder, UpsertPointsBuilder, VectorParamsBuilder, VectorsConfigBuilder,
};
use qdrant_client::{Qdrant, QdrantError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

/// How Loupe reaches a Qdrant server, and how it lays out and queries its collection. The `[qdrant]`
/// section of the config file; `url` and `api_key` also come from `--qdrant-url`/`LOUPE_QDRANT_URL`
/// and `LOUPE_QDRANT_API_KEY`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QdrantConfig {
    /// The gRPC endpoint, e.g. `http://qdrant:6334` (`https://` uses TLS).
    pub url: String,
    /// Sent as the `api-key` header. Never printed or logged.
    pub api_key: Option<String>,
    /// The collection; default: the one the index was created with (`loupe_<folder>_<hash>`).
    pub collection: Option<String>,
    /// Client-side deadline of one request, in seconds.
    pub timeout_s: u64,
    /// Deadline for opening a connection, in seconds.
    pub connect_timeout_s: u64,
    /// Points per upsert request.
    pub batch_size: usize,
    /// How long `loupe index` waits, at its end, for the server to finish building its indexes
    /// (seconds); the data is searchable either way.
    pub optimize_wait_s: u64,
    /// `weak`, `medium` or `strong` write ordering (Qdrant's `ordering`).
    pub write_ordering: WriteOrdering,
    /// How the collection is created (only on first use; an existing collection is left as it is).
    pub collection_settings: CollectionSettings,
    pub search: SearchSettings,
    pub retry: RetryPolicy,
}

impl std::fmt::Debug for QdrantConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantConfig")
            .field("url", &self.display_url())
            .field("api_key", &self.api_key.as_ref().map(|_| "****"))
            .field("collection", &self.collection)
            .field("timeout_s", &self.timeout_s)
            .field("batch_size", &self.batch_size)
            .field("collection_settings", &self.collection_settings)
            .field("search", &self.search)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Default for QdrantConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            api_key: None,
            collection: None,
            timeout_s: 30,
            connect_timeout_s: 5,
            batch_size: 256,
            optimize_wait_s: 120,
            write_ordering: WriteOrdering::Weak,
            collection_settings: CollectionSettings::default(),
            search: SearchSettings::default(),
            retry: RetryPolicy::default(),
        }
    }
}

impl QdrantConfig {
    /// A configuration for this URL, everything else default.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// The URL without credentials or query (for messages and `index.json`).
    pub fn display_url(&self) -> String {
        redact_url(&self.url)
    }
}

/// `scheme://host:port/path` of a URL, with any `user:password@` and query removed.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    if scheme.is_empty() {
        rest.to_string()
    } else {
        format!("{scheme}://{rest}")
    }
}

/// Qdrant's write ordering for upserts and deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteOrdering {
    Weak,
    Medium,
    Strong,
}

/// What an operator sets when Loupe creates the collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CollectionSettings {
    /// Shards of the collection (default: the server's, 1 on a single node).
    pub shard_number: Option<u32>,
    pub replication_factor: Option<u32>,
    pub write_consistency_factor: Option<u32>,
    /// Keep vectors on disk (memory-mapped) instead of in RAM.
    pub on_disk_vectors: bool,
    /// Keep payload on disk.
    pub on_disk_payload: bool,
    /// HNSW graph degree and build-time beam (server default when unset).
    pub hnsw_m: Option<u64>,
    pub hnsw_ef_construct: Option<u64>,
    pub quantization: Quantization,
}

impl Default for CollectionSettings {
    fn default() -> Self {
        Self {
            shard_number: None,
            replication_factor: None,
            write_consistency_factor: None,
            on_disk_vectors: false,
            on_disk_payload: true,
            hnsw_m: None,
            hnsw_ef_construct: None,
            quantization: Quantization::None,
        }
    }
}

/// Vector quantization of the collection.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Quantization {
    None,
    /// Scalar int8 (4x less memory); searches rescore with the original vectors.
    Int8 {
        /// Quantile of values kept in range (Qdrant's default 0.99 when unset).
        #[serde(default)]
        quantile: Option<f32>,
        /// Keep the quantized vectors in RAM even when the originals are on disk.
        #[serde(default = "yes")]
        always_ram: bool,
    },
}

fn yes() -> bool {
    true
}

/// Read consistency of searches on a replicated collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadConsistency {
    All,
    Majority,
    Quorum,
    /// Ask this many replicas.
    Factor(u64),
}

/// Search-time parameters passed through to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchSettings {
    /// HNSW beam at search time (server default when unset).
    pub hnsw_ef: Option<u64>,
    /// Exact (brute-force) search.
    pub exact: bool,
    pub consistency: Option<ReadConsistency>,
    /// Server-side timeout of a search, in seconds.
    pub timeout_s: Option<u64>,
    /// With int8 quantization: rescore with the original vectors (default on) and oversample.
    pub rescore: bool,
    pub oversampling: Option<f64>,
}

impl Default for SearchSettings {
    fn default() -> Self {
        Self {
            hnsw_ef: None,
            exact: false,
            consistency: None,
            timeout_s: None,
            rescore: true,
            oversampling: None,
        }
    }
}

/// Capped exponential backoff with full jitter for transient errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Tries in all (1: no retry).
    pub attempts: u32,
    /// The first wait, in milliseconds; doubled on each retry.
    pub initial_ms: u64,
    /// The longest wait, in milliseconds.
    pub max_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 10,
            initial_ms: 100,
            max_ms: 5_000,
        }
    }
}

impl RetryPolicy {
    /// The cap of the wait before retry number `attempt + 1` (0-based): `initial * 2^attempt`,
    /// at most `max`.
    pub fn cap(&self, attempt: u32) -> Duration {
        let ms = self
            .initial_ms
            .saturating_mul(1u64 << attempt.min(30))
            .min(self.max_ms);
        Duration::from_millis(ms)
    }

    /// The wait before retry number `attempt + 1`: uniform in `[cap/2, cap]` (jitter spreads the
    /// retries of many clients; the floor keeps a restarting server from being hammered).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let cap = self.cap(attempt);
        let half = cap / 2;
        half + cap.mul_f64(rand::random::<f64>() * 0.5)
    }
}

/// Whether a failed call is worth trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Try again, after at least this long when the server said so.
    Transient(Option<Duration>),
    Permanent,
}

/// Transient: the server is down, restarting, overloaded or slow. Everything else is permanent.
pub fn classify(e: &QdrantError) -> Retry {
    use tonic::Code;
    match e {
        QdrantError::ResponseError { status } => match status.code() {
            Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Aborted => {
                Retry::Transient(None)
            }
            // A connection reset mid-reply surfaces as Unknown or Internal with a transport message.
            Code::Unknown | Code::Internal if is_transport(status.message()) => Retry::Transient(None),
            // The client's own deadline (tonic reports it as Cancelled "Timeout expired").
            Code::Cancelled if status.message().contains("Timeout expired") => Retry::Transient(None),
            _ => Retry::Permanent,
        },
        QdrantError::ResourceExhaustedError {
            retry_after_seconds, ..
        } => Retry::Transient(Some(Duration::from_secs(*retry_after_seconds))),
        QdrantError::Io(_) => Retry::Transient(None),
        _ => Retry::Permanent,
    }
}

fn is_transport(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "transport",
        "connection",
        "broken pipe",
        "h2 protocol",
        "stream closed",
        "reset",
    ]
    .iter()
    .any(|s| m.contains(s))
}

/// The gRPC status of an error, if it has one.
fn status_of(e: &QdrantError) -> Option<&tonic::Status> {
    match e {
        QdrantError::ResponseError { status } | QdrantError::ResourceExhaustedError { status, .. } => {
            Some(status)
        }
        _ => None,
    }
}

/// An error's code and message, without the response metadata `QdrantError`'s Display prints.
fn describe(e: &QdrantError) -> String {
    match status_of(e) {
        Some(s) => format!("{:?}: {}", s.code(), s.message()),
        None => e.to_string(),
    }
}

/// How [`QdrantBackend::open`] treats the collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// It must exist (an existing index's vectors).
    Existing,
    /// For a new index: created when absent; an existing one must be empty, so a new index never
    /// inherits points (another index's, or those of an index deleted and made again).
    New,
    /// The target of a migration: created when absent, may hold what an earlier run copied.
    Migration,
}

/// The models that write a collection, recorded in its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionModels {
    /// `name@fingerprint` of the visual model and its dimension.
    pub visual: (String, usize),
    pub text: Option<(String, usize)>,
}

impl CollectionModels {
    fn spaces(&self) -> Vec<(Space, &str, usize)> {
        std::iter::once((Space::Visual, self.visual.0.as_str(), self.visual.1))
            .chain(self.text.as_ref().map(|(m, d)| (Space::Text, m.as_str(), *d)))
            .collect()
    }
}

/// The oldest Qdrant 1.x minor version Loupe works with (collection metadata).
const MIN_MINOR: u64 = 16;

fn meta_key(space: Space) -> String {
    format!("loupe_{}_model", space.name())
}

/// A collection on a Qdrant server.
pub struct QdrantBackend {
    client: Qdrant,
    /// Always `Some` until drop (taken there to shut it down without blocking).
    runtime: Option<tokio::runtime::Runtime>,
    collection: String,
    config: QdrantConfig,
    /// What the server said its version is.
    server_version: String,
}

impl QdrantBackend {
    /// Connects, and opens `collection` as `mode` says (creating it, with its payload indexes,
    /// when allowed). A collection whose vectors or models differ from `models` is refused with an
    /// error naming both.
    pub fn open(
        config: &QdrantConfig,
        collection: &str,
        models: &CollectionModels,
        mode: OpenMode,
    ) -> Result<Self> {
        let backend = Self::connect(config, collection)?;
        backend.ensure_collection(models, mode)?;
        Ok(backend)
    }

    /// Connects and checks the server answers, without touching any collection.
    pub fn connect(config: &QdrantConfig, collection: &str) -> Result<Self> {
        if config.url.trim().is_empty() {
            return Err(Error::VectorConfig("the Qdrant URL is empty".into()));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("loupe-qdrant")
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the Qdrant client's runtime", e))?;
        let client = {
            // The client's builder creates its channel pool, which needs a runtime context.
            let _guard = runtime.enter();
            Qdrant::from_url(&config.url)
                .api_key(config.api_key.clone())
                .timeout(Duration::from_secs(config.timeout_s.max(1)))
                .connect_timeout(Duration::from_secs(config.connect_timeout_s.max(1)))
                // The client prints its version check to stdout; Loupe checks and logs it itself.
                .skip_compatibility_check()
                .build()
                .map_err(|e| {
                    Error::VectorConfig(format!(
                        "bad Qdrant URL '{}': {} (expected e.g. http://qdrant:6334)",
                        config.display_url(),
                        describe(&e)
                    ))
                })?
        };
        let mut backend = Self {
            client,
            runtime: Some(runtime),
            collection: collection.to_string(),
            config: config.clone(),
            server_version: String::new(),
        };
        let reply = backend.call("health check", |c| async move { c.health_check().await })?;
        let version: Vec<u64> = reply
            .version
            .split(['.', '-'])
            .take(2)
            .filter_map(|p| p.parse().ok())
            .collect();
        match version.as_slice() {
            // Collection metadata (where Loupe records the models) came with Qdrant 1.16.
            [1, minor] if *minor < MIN_MINOR => {
                return Err(Error::VectorConfig(format!(
                    "the Qdrant server at {} is version {}; Loupe needs 1.{MIN_MINOR} or newer",
                    config.display_url(),
                    reply.version
                )));
            }
            [1, _] => {}
            _ => tracing::warn!(
                server = %reply.version,
                "Loupe is tested with Qdrant 1.x; this server says another version"
            ),
        }
        backend.server_version = reply.version;
        Ok(backend)
    }

    /// Deletes a collection (for benches and test suites that made their own). A collection that
    /// does not exist is not an error.
    pub fn drop_collection(config: &QdrantConfig, collection: &str) -> Result<()> {
        let backend = Self::connect(config, collection)?;
        backend.send("delete collection", collection.to_string(), |c, r| async move {
            c.delete_collection(r).await
        })?;
        Ok(())
    }

    /// The collection this backend reads and writes.
    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// The version the server reported.
    pub fn server_version(&self) -> &str {
        &self.server_version
    }

    /// Runs one request on the client's runtime from any thread (async or not), retrying
    /// transient failures as [`RetryPolicy`] says.
    fn call<T, Fut>(&self, what: &str, op: impl Fn(Qdrant) -> Fut) -> Result<T>
    where
        Fut: Future<Output = Result<T, QdrantError>> + Send + 'static,
        T: Send + 'static,
    {
        let attempts = self.config.retry.attempts.max(1);
        let mut attempt = 0;
        loop {
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            let fut = op(self.client.clone());
            let Some(runtime) = &self.runtime else {
                return Err(Error::Vector(format!("Qdrant {what}: the client is shut down")));
            };
            runtime.spawn(async move {
                let _ = tx.send(fut.await);
            });
            let res = rx
                .recv()
                .map_err(|_| Error::Vector(format!("Qdrant {what}: the client task stopped")))?;
            let e = match res {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            match classify(&e) {
                Retry::Transient(hint) if attempt + 1 < attempts => {
                    let wait = hint.map_or_else(
                        || self.config.retry.backoff(attempt),
                        |h| h.min(Duration::from_millis(self.config.retry.max_ms)),
                    );
                    tracing::warn!(
                        url = %self.config.display_url(),
                        error = %describe(&e),
                        wait_ms = wait.as_millis() as u64,
                        "Qdrant {what} failed; retrying ({}/{attempts})",
                        attempt + 1
                    );
                    std::thread::sleep(wait);
                    attempt += 1;
                }
                Retry::Transient(_) => {
                    return Err(Error::VectorUnavailable(format!(
                        "the Qdrant server at {} did not complete {what} after {attempts} tries: {}; \
                         check that it is running and reachable, then run the command again \
                         (what was committed so far is kept)",
                        self.config.display_url(),
                        describe(&e)
                    )));
                }
                Retry::Permanent => return Err(self.permanent(what, &e)),
            }
        }
    }

    /// [`Self::call`] with a request (cloned for each try).
    fn send<R, T, Fut>(&self, what: &str, req: R, op: impl Fn(Qdrant, R) -> Fut) -> Result<T>
    where
        R: Clone,
        Fut: Future<Output = Result<T, QdrantError>> + Send + 'static,
        T: Send + 'static,
    {
        self.call(what, |c| op(c, req.clone()))
    }

    /// The error a user sees for a failure that retrying cannot fix.
    fn permanent(&self, what: &str, e: &QdrantError) -> Error {
        let url = self.config.display_url();
        match status_of(e).map(|s| s.code()) {
            Some(tonic::Code::Unauthenticated | tonic::Code::PermissionDenied) => {
                Error::VectorConfig(format!(
                    "the Qdrant server at {url} refused the API key ({}); set the right key in \
                 LOUPE_QDRANT_API_KEY, --qdrant-api-key or [qdrant] api_key",
                    describe(e)
                ))
            }
            Some(tonic::Code::NotFound) => Error::Vector(format!(
                "Qdrant {what}: collection '{}' was not found on {url} ({}); was it deleted? \
                 Rebuild the index, or `loupe migrate --to {url}` from an embedded copy",
                self.collection,
                describe(e)
            )),
            _ => Error::Vector(format!("Qdrant {what} on {url} failed: {}", describe(e))),
        }
    }

    /// Creates the collection if needed and checks it holds what `models` writes.
    fn ensure_collection(&self, models: &CollectionModels, mode: OpenMode) -> Result<()> {
        let exists = self.send("collection check", self.collection.clone(), |c, r| async move {
            c.collection_exists(r).await
        })?;
        if exists && mode == OpenMode::New {
            self.check_collection(models)?;
            let n = self.count()?;
            if n > 0 {
                return Err(Error::VectorConfig(format!(
                    "collection '{}' on {} already holds {n} points (an earlier index, or another \
                     one); a new index needs an empty collection: set [qdrant] collection to a new \
                     name, or delete the old collection",
                    self.collection,
                    self.config.display_url()
                )));
            }
            return Ok(());
        }
        if !exists {
            if mode == OpenMode::Existing {
                return Err(Error::Vector(format!(
                    "collection '{}' does not exist on {}; build the index (`loupe index`) or \
                     migrate one (`loupe migrate --to URL`)",
                    self.collection,
                    self.config.display_url()
                )));
            }
            match self.create_collection(models) {
                Ok(()) => {}
                // Another process created it first: check what it made.
                Err(e) if e.to_string().contains("already exists") => {}
                Err(e) => return Err(e),
            }
        }
        self.check_collection(models)
    }

    fn create_collection(&self, models: &CollectionModels) -> Result<()> {
        let s = &self.config.collection_settings;
        let mut vectors = VectorsConfigBuilder::default();
        for (space, _, dim) in models.spaces() {
            vectors.add_named_vector_params(
                space.name(),
                VectorParamsBuilder::new(dim as u64, q::Distance::Cosine).on_disk(s.on_disk_vectors),
            );
        }
        let mut hnsw = HnswConfigDiffBuilder::default();
        if let Some(m) = s.hnsw_m {
            hnsw = hnsw.m(m);
        }
        if let Some(ef) = s.hnsw_ef_construct {
            hnsw = hnsw.ef_construct(ef);
        }
        let metadata: HashMap<String, serde_json::Value> = models
            .spaces()
            .into_iter()
            .map(|(space, model, _)| (meta_key(space), serde_json::Value::from(model)))
            .chain([("loupe_format".to_string(), serde_json::Value::from(1))])
            .collect();
        let mut req = CreateCollectionBuilder::new(&self.collection)
            .vectors_config(vectors)
            .hnsw_config(hnsw)
            .on_disk_payload(s.on_disk_payload)
            .metadata(metadata);
        if let Some(n) = s.shard_number {
            req = req.shard_number(n);
        }
        if let Some(n) = s.replication_factor {
            req = req.replication_factor(n);
        }
        if let Some(n) = s.write_consistency_factor {
            req = req.write_consistency_factor(n);
        }
        if let Quantization::Int8 { quantile, always_ram } = s.quantization {
            let mut sq = ScalarQuantizationBuilder::default()
                .r#type(q::QuantizationType::Int8.into())
                .always_ram(always_ram);
            if let Some(qt) = quantile {
                sq = sq.quantile(qt);
            }
            req = req.quantization_config(sq);
        }
        self.send("create collection", req, |c, r| async move {
            c.create_collection(r).await
        })?;
        self.create_payload_indexes(&[])?;
        tracing::info!(
            collection = %self.collection,
            url = %self.config.display_url(),
            "created the Qdrant collection"
        );
        Ok(())
    }

    /// Creates the payload index of every filtered field that `have` lacks (idempotent on the
    /// server; also mends a collection whose creation was cut short before its indexes).
    fn create_payload_indexes(&self, have: &[String]) -> Result<()> {
        for (field, ty) in INDEXED_FIELDS {
            if have.iter().any(|h| h == field) {
                continue;
            }
            let ty = match ty {
                FieldType::Keyword => q::FieldType::Keyword,
                FieldType::Integer => q::FieldType::Integer,
            };
            let req = CreateFieldIndexCollectionBuilder::new(&self.collection, *field, ty).wait(true);
            self.send("create payload index", req, |c, r| async move {
                c.create_field_index(r).await
            })?;
        }
        Ok(())
    }

    /// Refuses a collection whose named vectors or models differ from `models`.
    fn check_collection(&self, models: &CollectionModels) -> Result<()> {
        let info = self.send("collection info", self.collection.clone(), |c, r| async move {
            c.collection_info(r).await
        })?;
        let result = info.result.unwrap_or_default();
        let indexed: Vec<String> = result.payload_schema.keys().cloned().collect();
        let config = result.config.unwrap_or_default();
        let vectors: HashMap<String, u64> = match config
            .params
            .and_then(|p| p.vectors_config)
            .and_then(|v| v.config)
        {
            Some(q::vectors_config::Config::ParamsMap(m)) => {
                m.map.into_iter().map(|(k, v)| (k, v.size)).collect()
            }
            Some(q::vectors_config::Config::Params(p)) => [(String::new(), p.size)].into(),
            None => HashMap::new(),
        };
        let mismatch = |what: String| {
            Error::CollectionMismatch(format!(
                "collection '{}' on {} {what}; use another collection ([qdrant] collection) or the \
                 model that built it — Loupe never overwrites a collection",
                self.collection,
                self.config.display_url()
            ))
        };
        for (space, model, dim) in models.spaces() {
            match vectors.get(space.name()) {
                Some(&have) if have as usize == dim => {}
                Some(&have) => {
                    return Err(mismatch(format!(
                        "has '{}' vectors of dimension {have}, but {model} writes dimension {dim}",
                        space.name()
                    )));
                }
                None => {
                    return Err(mismatch(format!(
                        "has no '{}' vectors (it has: {}), but {model} writes them",
                        space.name(),
                        vectors.keys().cloned().collect::<Vec<_>>().join(", ")
                    )));
                }
            }
            let recorded = config
                .metadata
                .get(&meta_key(space))
                .and_then(|v| v.as_str().map(|s| s.to_string()));
            match recorded {
                Some(have) if have != model => {
                    return Err(mismatch(format!(
                        "was built with {} model '{have}', but this index uses '{model}'",
                        space.name()
                    )));
                }
                Some(_) => {}
                None => {
                    return Err(mismatch(format!(
                        "was not made by Loupe (its metadata names no {} model; this index uses '{model}')",
                        space.name()
                    )));
                }
            }
        }
        self.create_payload_indexes(&indexed)
    }

    fn filter(conds: &[Condition]) -> Option<q::Filter> {
        if conds.is_empty() {
            return None;
        }
        Some(q::Filter::must(conds.iter().map(|c| match c {
            // Keywords, spelled out: the client's `From<String>` turns a value with a space into a
            // full-text match, which a folder like "/Photos/My Trip" must never be.
            Condition::Any { key, values } => q::Condition::matches(
                *key,
                q::r#match::MatchValue::Keywords(q::RepeatedStrings {
                    strings: values.clone(),
                }),
            ),
            Condition::Is { key, value } => {
                q::Condition::matches(*key, q::r#match::MatchValue::Keyword(value.clone()))
            }
            Condition::Range { key, gte, lte } => q::Condition::range(
                *key,
                q::Range {
                    gte: gte.map(|v| v as f64),
                    lte: lte.map(|v| v as f64),
                    ..Default::default()
                },
            ),
        })))
    }

    fn ordering(&self) -> q::WriteOrdering {
        q::WriteOrdering {
            r#type: match self.config.write_ordering {
                WriteOrdering::Weak => q::WriteOrderingType::Weak,
                WriteOrdering::Medium => q::WriteOrderingType::Medium,
                WriteOrdering::Strong => q::WriteOrderingType::Strong,
            }
            .into(),
        }
    }

    fn read_consistency(&self) -> Option<q::read_consistency::Value> {
        self.config.search.consistency.map(|c| match c {
            ReadConsistency::All => q::read_consistency::Value::Type(q::ReadConsistencyType::All.into()),
            ReadConsistency::Majority => {
                q::read_consistency::Value::Type(q::ReadConsistencyType::Majority.into())
            }
            ReadConsistency::Quorum => {
                q::read_consistency::Value::Type(q::ReadConsistencyType::Quorum.into())
            }
            ReadConsistency::Factor(n) => q::read_consistency::Value::Factor(n),
        })
    }

    fn search_params(&self) -> q::SearchParams {
        let s = &self.config.search;
        let mut p = SearchParamsBuilder::default().exact(s.exact);
        if let Some(ef) = s.hnsw_ef {
            p = p.hnsw_ef(ef);
        }
        if matches!(
            self.config.collection_settings.quantization,
            Quantization::Int8 { .. }
        ) {
            let mut qp = QuantizationSearchParamsBuilder::default().rescore(s.rescore);
            if let Some(o) = s.oversampling {
                qp = qp.oversampling(o);
            }
            p = p.quantization(qp);
        }
        p.build()
    }
}

impl Drop for QdrantBackend {
    /// Shuts the client's runtime down without waiting: dropping it the ordinary way panics when
    /// the last owner of the index goes away inside an async context (the HTTP server's shutdown).
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

fn point_id(id: Uuid) -> q::PointId {
    id.to_string().into()
}

fn uuid_of(id: Option<&q::PointId>) -> Option<Uuid> {
    match id?.point_id_options.as_ref()? {
        q::point_id::PointIdOptions::Uuid(s) => s.parse().ok(),
        q::point_id::PointIdOptions::Num(_) => None,
    }
}

/// A payload map back to JSON.
fn payload_to_json(p: HashMap<String, q::Value>) -> serde_json::Map<String, serde_json::Value> {
    p.into_iter()
        .map(|(k, v)| (k, serde_json::to_value(v).unwrap_or(serde_json::Value::Null)))
        .collect()
}

/// The named dense vectors of a returned point.
fn named_vectors(v: Option<q::VectorsOutput>) -> Vec<(Space, Vec<f32>)> {
    let Some(q::vectors_output::VectorsOptions::Vectors(named)) = v.and_then(|v| v.vectors_options) else {
        return Vec::new();
    };
    let mut map = named.vectors;
    [Space::Visual, Space::Text]
        .into_iter()
        .filter_map(|space| {
            let out = map.remove(space.name())?;
            match out.into_vector() {
                q::vector_output::Vector::Dense(d) => Some((space, d.data)),
                _ => None,
            }
        })
        .collect()
}

/// The point, `Err(id)` when its payload is not a readable Loupe payload, `None` for a
/// non-UUID id (never written by Loupe).
fn retrieved_point(p: q::RetrievedPoint) -> Option<std::result::Result<Point, Uuid>> {
    let id = uuid_of(p.id.as_ref())?;
    let Some((asset_id, payload)) = payload_from_json(&payload_to_json(p.payload)) else {
        return Some(Err(id));
    };
    Some(Ok(Point {
        id,
        asset_id,
        payload,
        vectors: named_vectors(p.vectors),
    }))
}

impl VectorBackend for QdrantBackend {
    fn upsert(&self, points: Vec<Point>) -> Result<()> {
        let batch = self.config.batch_size.max(1);
        for chunk in points.chunks(batch) {
            let list: Vec<q::PointStruct> = chunk
                .iter()
                .map(|p| {
                    let vectors: HashMap<String, Vec<f32>> = p
                        .vectors
                        .iter()
                        .map(|(s, v)| (s.name().to_string(), v.clone()))
                        .collect();
                    let payload = match payload_json(&p.asset_id, &p.payload) {
                        serde_json::Value::Object(m) => qdrant_client::Payload::from(m),
                        _ => qdrant_client::Payload::new(),
                    };
                    q::PointStruct::new(point_id(p.id), vectors, payload)
                })
                .collect();
            let req = UpsertPointsBuilder::new(&self.collection, list)
                .wait(true)
                .ordering(self.ordering());
            self.send("upsert", req, |c, r| async move { c.upsert_points(r).await })?;
        }
        Ok(())
    }

    fn delete_asset(&self, asset: &AssetId) -> Result<()> {
        let filter = Self::filter(&[asset_condition(asset)]).unwrap_or_default();
        let req = DeletePointsBuilder::new(&self.collection)
            .points(filter)
            .wait(true)
            .ordering(self.ordering());
        self.send("delete", req, |c, r| async move { c.delete_points(r).await })?;
        Ok(())
    }

    fn set_dirs(&self, asset: &AssetId, dirs: &[String]) -> Result<()> {
        let filter = Self::filter(&[asset_condition(asset)]).unwrap_or_default();
        let payload = qdrant_client::Payload::from(
            serde_json::json!({ "dirs": dirs })
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        let req = SetPayloadPointsBuilder::new(&self.collection, payload)
            .points_selector(filter)
            .wait(true)
            .ordering(self.ordering());
        self.send("set payload", req, |c, r| async move { c.set_payload(r).await })?;
        Ok(())
    }

    fn search(&self, vq: &VectorQuery<'_>) -> Result<Vec<Scored>> {
        let mut req = QueryPointsBuilder::new(&self.collection)
            .query(Query::new_nearest(vq.vector.to_vec()))
            .using(vq.space.name())
            .limit(vq.limit as u64)
            .with_payload(q::with_payload_selector::SelectorOptions::Include(
                q::PayloadIncludeSelector {
                    fields: vec!["asset_id".into()],
                },
            ))
            .with_vectors(false)
            .params(self.search_params());
        if let Some(f) = Self::filter(&conditions(vq.filters)) {
            req = req.filter(f);
        }
        if let Some(t) = vq.score_threshold {
            req = req.score_threshold(t);
        }
        if let Some(c) = self.read_consistency() {
            req = req.read_consistency(c);
        }
        if let Some(t) = self.config.search.timeout_s {
            req = req.timeout(t);
        }
        let res = self.send("search", req, |c, r| async move { c.query(r).await })?;
        let mut out = Vec::with_capacity(res.result.len());
        for p in res.result {
            let Some(segment_id) = uuid_of(p.id.as_ref()) else {
                continue;
            };
            let asset_id = p
                .payload
                .get("asset_id")
                .and_then(|v| v.as_str())
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| Error::Vector(format!("point {segment_id} has no asset_id payload")))?;
            out.push(Scored {
                segment_id,
                asset_id,
                score: p.score,
            });
        }
        Ok(out)
    }

    fn vector(&self, segment: Uuid, space: Space) -> Result<Option<Vec<f32>>> {
        Ok(self
            .get(&[segment])?
            .into_iter()
            .next()
            .and_then(|p| p.vectors.into_iter().find(|(s, _)| *s == space))
            .map(|(_, v)| v))
    }

    fn count(&self) -> Result<usize> {
        let mut req = CountPointsBuilder::new(&self.collection).exact(true);
        if let Some(c) = self.read_consistency() {
            req = req.read_consistency(c);
        }
        let res = self.send("count", req, |c, r| async move { c.count(r).await })?;
        Ok(res.result.map_or(0, |r| r.count as usize))
    }

    fn scroll(&self, offset: Option<Uuid>, limit: usize, with_vectors: bool) -> Result<Page> {
        let mut req = ScrollPointsBuilder::new(&self.collection)
            .limit(limit.min(u32::MAX as usize) as u32)
            .with_payload(true)
            .with_vectors(with_vectors);
        if let Some(o) = offset {
            req = req.offset(point_id(o));
        }
        if let Some(c) = self.read_consistency() {
            req = req.read_consistency(c);
        }
        let res = self.send("scroll", req, |c, r| async move { c.scroll(r).await })?;
        let mut points = Vec::with_capacity(res.result.len());
        let mut unreadable = Vec::new();
        for p in res.result {
            match retrieved_point(p) {
                Some(Ok(p)) => points.push(p),
                Some(Err(id)) => unreadable.push(id),
                None => {}
            }
        }
        Ok(Page {
            points,
            unreadable,
            next: uuid_of(res.next_page_offset.as_ref()),
        })
    }

    fn get(&self, ids: &[Uuid]) -> Result<Vec<Point>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut req = GetPointsBuilder::new(
            &self.collection,
            ids.iter().map(|u| point_id(*u)).collect::<Vec<_>>(),
        )
        .with_payload(true)
        .with_vectors(true);
        if let Some(c) = self.read_consistency() {
            req = req.read_consistency(c);
        }
        let res = self.send("get points", req, |c, r| async move { c.get_points(r).await })?;
        let mut out = Vec::with_capacity(res.result.len());
        for p in res.result {
            if let Some(p) = retrieved_point(p) {
                out.push(p.map_err(|id| Error::Vector(format!("point {id} has no valid Loupe payload")))?);
            }
        }
        Ok(out)
    }

    fn location(&self) -> Location {
        Location::Server {
            url: self.config.display_url(),
            collection: self.collection.clone(),
        }
    }

    /// Writes wait for the server (`wait = true`): nothing is left to flush.
    fn flush(&self) -> Result<()> {
        Ok(())
    }

    /// The server builds its HNSW graphs itself, in the background: wait (at most `optimize_wait_s`)
    /// until it says the collection is green again, so what follows runs on indexed data. The
    /// data is there either way; the server searches it exactly until its indexes are built.
    fn optimize(&self) -> Result<()> {
        let deadline = std::time::Instant::now() + Duration::from_secs(self.config.optimize_wait_s);
        let mut wait = Duration::from_millis(50);
        loop {
            let info = self.send("collection info", self.collection.clone(), |c, r| async move {
                c.collection_info(r).await
            })?;
            let status = info.result.map(|r| r.status).unwrap_or_default();
            // Grey: optimizations wait for the next write; nothing runs now.
            if status == q::CollectionStatus::Green as i32 || status == q::CollectionStatus::Grey as i32 {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                tracing::warn!(collection = %self.collection, status, "the Qdrant collection is still being optimized");
                return Ok(());
            }
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_secs(2));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_jittered() {
        let p = RetryPolicy {
            attempts: 10,
            initial_ms: 100,
            max_ms: 1_000,
        };
        assert_eq!(p.cap(0), Duration::from_millis(100));
        assert_eq!(p.cap(3), Duration::from_millis(800));
        assert_eq!(p.cap(4), Duration::from_millis(1_000));
        assert_eq!(p.cap(40), Duration::from_millis(1_000));
        for attempt in 0..12 {
            let w = p.backoff(attempt);
            assert!(
                w >= p.cap(attempt) / 2 && w <= p.cap(attempt),
                "{w:?} at {attempt}"
            );
        }
    }

    #[test]
    fn transient_and_permanent_errors() {
        let status = |code| QdrantError::ResponseError {
            status: tonic::Status::new(code, "x"),
        };
        for code in [
            tonic::Code::Unavailable,
            tonic::Code::DeadlineExceeded,
            tonic::Code::ResourceExhausted,
            tonic::Code::Aborted,
        ] {
            assert_eq!(classify(&status(code)), Retry::Transient(None), "{code:?}");
        }
        for code in [
            tonic::Code::Unauthenticated,
            tonic::Code::PermissionDenied,
            tonic::Code::InvalidArgument,
            tonic::Code::NotFound,
            tonic::Code::AlreadyExists,
        ] {
            assert_eq!(classify(&status(code)), Retry::Permanent, "{code:?}");
        }
        let reset = QdrantError::ResponseError {
            status: tonic::Status::new(tonic::Code::Unknown, "transport error: connection reset"),
        };
        assert_eq!(classify(&reset), Retry::Transient(None));
        let deadline = QdrantError::ResponseError {
            status: tonic::Status::new(tonic::Code::Cancelled, "Timeout expired"),
        };
        assert_eq!(classify(&deadline), Retry::Transient(None));
        let later = QdrantError::ResourceExhaustedError {
            status: tonic::Status::new(tonic::Code::ResourceExhausted, "slow down"),
            retry_after_seconds: 2,
        };
        assert_eq!(classify(&later), Retry::Transient(Some(Duration::from_secs(2))));
    }

    #[test]
    fn urls_lose_credentials_and_keys_never_print() {
        assert_eq!(
            redact_url("https://u:p@q.example:6334/x?key=1"),
            "https://q.example:6334/x"
        );
        assert_eq!(redact_url("http://qdrant:6334"), "http://qdrant:6334");
        let c = QdrantConfig {
            api_key: Some("super-secret-key-123".into()),
            ..QdrantConfig::new("http://qdrant:6334")
        };
        assert!(!format!("{c:?}").contains("super-secret"));
    }

    #[test]
    fn config_file_section_parses() {
        let c: QdrantConfig = serde_json::from_value(serde_json::json!({
            "url": "http://qdrant:6334",
            "collection": "family",
            "collection_settings": {
                "shard_number": 3, "replication_factor": 2, "write_consistency_factor": 1,
                "on_disk_vectors": true, "hnsw_m": 32, "hnsw_ef_construct": 200,
                "quantization": {"type": "int8", "quantile": 0.99}
            },
            "search": {"hnsw_ef": 128, "consistency": "majority", "timeout_s": 5, "oversampling": 2.0},
            "retry": {"attempts": 3}
        }))
        .unwrap();
        assert_eq!(c.collection_settings.shard_number, Some(3));
        assert_eq!(
            c.collection_settings.quantization,
            Quantization::Int8 {
                quantile: Some(0.99),
                always_ram: true
            }
        );
        assert_eq!(c.search.consistency, Some(ReadConsistency::Majority));
        assert_eq!(c.retry.attempts, 3);
        assert_eq!(c.retry.max_ms, 5_000);
        assert!(serde_json::from_value::<QdrantConfig>(serde_json::json!({"shards": 3})).is_err());
    }
}
