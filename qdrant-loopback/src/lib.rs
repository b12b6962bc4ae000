//! An in-process Qdrant gRPC server for **tests and benchmarks**, backed by Qdrant Edge shards.
//!
//! # What it is for
//!
//! Loupe talks to a Qdrant server through the official `qdrant-client` crate. No Qdrant server
//! binary is available in CI, so [`Loopback`] stands in for one: it serves Qdrant's own gRPC
//! services (the tonic server traits generated from Qdrant's protos, as shipped in
//! `qdrant-client`) on `127.0.0.1`, and stores every collection in a Qdrant Edge shard
//! (`qdrant-edge`) under a directory you give it. That way the real client, the real wire format,
//! filter translation, retries and error mapping are all exercised by ordinary `#[test]`s:
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let server = loupe_qdrant_loopback::Loopback::start(dir.path())?;
//! let client = qdrant_client::Qdrant::from_url(&server.url()).build()?;
//! // ... use `client` exactly as against a real Qdrant ...
//! # Ok(())
//! # }
//! ```
//!
//! It also injects faults ([`Faults`]: failed calls, lost replies, slow calls), drops
//! connections ([`Loopback::drop_connections`]), makes the port unreachable
//! ([`Loopback::pause`]) and restarts the server on the same port with the same data
//! ([`Loopback::restart`]), so retry and reconnection paths can be tested. Per-method call
//! counters ([`Loopback::calls`], [`Loopback::calls_to`]) let tests assert batching and retries.
//!
//! # What it is not for
//!
//! It is **not** a production server and not a substitute for Qdrant: it has one shard per
//! collection and no replication, snapshots, aliases, sparse or multi vectors, shard keys,
//! strict mode or inference. Indexes are built with Edge's defaults: a look at a collection
//! written since its last optimization (`Collections/Get`) starts a background HNSW build and
//! reports the collection yellow until it is done, as the real server's optimizers do; the
//! collection's own HNSW, quantization, optimizer and WAL settings are recorded and reported back,
//! nothing more. Only the RPCs listed below are served; every other RPC
//! answers `Code::Unimplemented` naming itself, and every request field it cannot honour
//! (a filter condition, a query kind, a vector kind, a shard key, ...) is refused with
//! `Code::Unimplemented` instead of being ignored. No TLS. Do not expose it to a network.
//!
//! # Served RPCs
//!
//! * `qdrant.Qdrant/HealthCheck`
//! * `qdrant.Collections`: `Get`, `List`, `Create`, `Delete`, `CollectionExists`
//! * `qdrant.Points`: `Upsert`, `Delete`, `Get`, `SetPayload`, `OverwritePayload`,
//!   `DeletePayload`, `ClearPayload`, `CreateFieldIndex`, `DeleteFieldIndex`, `Search`,
//!   `Scroll`, `Count`, `Query` (nearest-neighbour queries with a dense vector)
//!
//! Errors follow the real server's codes and messages where they are known (for example
//! `NotFound` "Not found: Collection `x` doesn't exist!", `InvalidArgument`
//! "Wrong input: Vector dimension error: expected dim: 3, got 4", `Unauthenticated`
//! "Invalid API key or JWT"). Writes are applied before the reply whether or not the caller
//! asked to `wait`; with `wait` they are also flushed to disk, and the reply says `Completed`
//! (`Acknowledged` without `wait`, as the real server).
//!
//! # Good to know about the client
//!
//! `qdrant-client` 1.20 retries a `Points` call once, on a new connection, when it fails with
//! `Internal`, `Unavailable`, `Cancelled` or `Unknown`; it never retries `Collections` calls.
//! [`Faults`] and [`Loopback::restart`] document what that means for tests.

mod convert;
mod faults;
mod service;
mod store;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use faults::Faults;

/// The Qdrant version the health check reports: the version of the protos this server is compiled
/// against (those of `qdrant-client`), so the client's compatibility check passes without a warning.
pub const SERVER_VERSION: &str = "1.20.0";

/// Errors starting, restarting or stopping a [`Loopback`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("collection `{name}` at {path}: {message}")]
    Collection {
        name: String,
        path: PathBuf,
        message: String,
    },
}

impl Error {
    fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

/// How to start a [`Loopback`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// When set, every call but the health check must carry this key in the `api-key` header (or
    /// as `authorization: Bearer <key>`), as with Qdrant's `service.api_key`.
    pub api_key: Option<String>,
    /// Where to listen; `None` means `127.0.0.1` on a port the OS chooses.
    pub addr: Option<SocketAddr>,
}

/// State shared by the gRPC services and the [`Loopback`] handle; it outlives restarts.
pub(crate) struct Shared {
    pub store: store::Store,
    pub faults: Faults,
    pub api_key: Option<String>,
    pub counters: faults::Counters,
}

/// A running in-process Qdrant gRPC server. See the crate documentation.
///
/// The server runs on its own tokio runtime (its own threads), so the handle is used from plain
/// synchronous code; it may also be used from inside an async test. Dropping the handle stops the
/// server and flushes and closes every shard.
pub struct Loopback {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// The listening socket; it stays open across [`Loopback::restart`] and
    /// [`Loopback::drop_connections`] (connection attempts wait in its backlog meanwhile) and is
    /// closed only by [`Loopback::pause`].
    listener: Option<std::net::TcpListener>,
    serving: Option<Serving>,
}

impl std::fmt::Debug for Loopback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loopback")
            .field("addr", &self.addr)
            .field("serving", &self.serving.is_some())
            .finish_non_exhaustive()
    }
}

impl Loopback {
    /// Starts on 127.0.0.1 with an OS-chosen port, storing collections under `dir` (one Edge shard
    /// per collection, in `dir/<name>`). Collections already stored there are served again.
    pub fn start(dir: &Path) -> Result<Self, Error> {
        Self::start_with(dir, Options::default())
    }

    /// Starts with the given [`Options`].
    pub fn start_with(dir: &Path, opts: Options) -> Result<Self, Error> {
        let store = store::Store::open(dir)?;
        let shared = Arc::new(Shared {
            store,
            faults: Faults::default(),
            api_key: opts.api_key,
            counters: faults::Counters::default(),
        });
        let want = opts
            .addr
            .unwrap_or(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)));
        let listener = listen(want)?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("reading the listener address", e))?;
        let serving = Serving::start(&listener, shared.clone())?;
        Ok(Self {
            addr,
            shared,
            listener: Some(listener),
            serving: Some(serving),
        })
    }

    /// `http://127.0.0.1:PORT`, what `qdrant_client::Qdrant::from_url` takes.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the server listens on (also while paused: the port it will listen on again).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The fault injector, shared with the running service.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Every call received (including refused and failed ones) since start or [`Self::reset_calls`].
    pub fn calls(&self) -> u64 {
        self.shared.counters.total()
    }

    /// Calls received by the methods `method` names: a gRPC method as `"Points/Upsert"`, its short
    /// name `"Upsert"` (which counts every service's method of that name, e.g. both `Get`s), or its
    /// path `"/qdrant.Points/Upsert"`.
    pub fn calls_to(&self, method: &str) -> u64 {
        self.shared.counters.matching(method)
    }

    /// Every method called so far with its call count, as `("Points/Upsert", 3)`, sorted by name.
    pub fn call_counts(&self) -> Vec<(&'static str, u64)> {
        self.shared.counters.all()
    }

    /// Sets all call counters back to zero.
    pub fn reset_calls(&self) {
        self.shared.counters.reset();
    }

    /// Stops serving (open connections dropped, in-flight calls cut, shards flushed and closed),
    /// opens the data again and serves on the same port, as a server restart. Faults and call
    /// counters are kept. If the server was paused it serves again afterwards.
    ///
    /// The listening socket stays open throughout, so a connection attempt made meanwhile waits
    /// instead of being refused (use [`Self::pause`] for refusals). Connections clients held
    /// are gone: `qdrant-client` retries a `Points` call once on a new connection, but not a
    /// `Collections` call, so the first `Collections` call on each of its pooled stale connections
    /// fails (`Unknown` or `Cancelled`), as after a real server restart.
    pub fn restart(&mut self) -> Result<(), Error> {
        if let Some(serving) = self.serving.take() {
            serving.stop();
        }
        self.shared.store.close();
        self.shared.store.reopen()?;
        self.serve()
    }

    /// Drops every open connection (calls in flight fail as on a broken connection) and serves
    /// again at once on the same port; the data is untouched. See [`Self::restart`] for what
    /// clients see.
    pub fn drop_connections(&mut self) -> Result<(), Error> {
        if let Some(serving) = self.serving.take() {
            serving.stop();
        }
        self.serve()
    }

    /// Makes the server unreachable: open connections are dropped and the port is closed, so
    /// connection attempts are refused until [`Self::resume`]. The data stays open.
    pub fn pause(&mut self) {
        if let Some(serving) = self.serving.take() {
            serving.stop();
        }
        self.listener = None;
    }

    /// Serves again on the same port after [`Self::pause`]; does nothing when already serving.
    pub fn resume(&mut self) -> Result<(), Error> {
        if self.serving.is_none() {
            self.serve()?;
        }
        Ok(())
    }

    fn serve(&mut self) -> Result<(), Error> {
        let listener = match self.listener.take() {
            Some(listener) => listener,
            None => listen(self.addr)?,
        };
        let serving = Serving::start(&listener, self.shared.clone());
        self.listener = Some(listener);
        self.serving = Some(serving?);
        Ok(())
    }

    /// Whether the server is accepting connections (false while paused).
    pub fn is_serving(&self) -> bool {
        self.serving.is_some()
    }

    /// Stops the server, flushes and closes every shard. Same as dropping the handle.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        if let Some(serving) = self.serving.take() {
            serving.stop();
        }
        self.listener = None;
        self.shared.store.close();
    }
}

/// One serving period: a tokio runtime running the tonic server on a copy of the listening
/// socket. Stopping it shuts the runtime down, which drops every connection task at once.
struct Serving {
    runtime: tokio::runtime::Runtime,
}

impl Serving {
    fn start(listener: &std::net::TcpListener, shared: Arc<Shared>) -> Result<Self, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("qdrant-loopback")
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the loopback runtime", e))?;
        let listener = listener
            .try_clone()
            .map_err(|e| Error::io("copying the listening socket", e))?;
        // Registering the listener needs the runtime's context (entering works even when called
        // from inside another runtime, unlike `block_on`).
        let listener = {
            let _context = runtime.enter();
            tokio::net::TcpListener::from_std(listener)
                .map_err(|e| Error::io("registering the listening socket", e))?
        };
        let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        let router = service::router(shared);
        runtime.spawn(async move {
            // Runs until the runtime is shut down; an accept error only ends this serving period.
            let _ = router.serve_with_incoming(incoming).await;
        });
        Ok(Self { runtime })
    }

    fn stop(self) {
        // Shutting a runtime down blocks; doing it on a plain thread keeps this callable from
        // inside an async context too. Handlers never hold a worker across an await while touching
        // shards, so this returns as soon as the workers notice.
        let runtime = self.runtime;
        let stopper = std::thread::spawn(move || runtime.shutdown_timeout(Duration::from_secs(10)));
        let _ = stopper.join();
    }
}

/// A non-blocking listening socket with `SO_REUSEADDR`, retrying briefly while a previous
/// listener on the same port is still going away.
fn listen(addr: SocketAddr) -> Result<std::net::TcpListener, Error> {
    use socket2::{Domain, Protocol, Socket, Type};
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let attempt = (|| {
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
            socket.set_reuse_address(true)?;
            socket.set_nonblocking(true)?;
            socket.bind(&addr.into())?;
            socket.listen(1024)?;
            Ok::<_, std::io::Error>(std::net::TcpListener::from(socket))
        })();
        match attempt {
            Ok(listener) => return Ok(listener),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(Error::io(format!("listening on {addr}"), e)),
        }
    }
}
