//! loupe-server: Loupe over HTTP.
//!
//! One process holds the models warm and the Index open, and answers the JSON API (`/v1/search`,
//! `/v1/assets/...`, `/v1/index`, `/v1/jobs/...`, `/v1/ask`, and the OpenAI-compatible
//! `/v1/chat/completions` and `/v1/models`), the operational routes (`/healthz`, `/readyz`,
//! `/metrics`, `/openapi.json`) and the web page at `/`. Handlers are thin: a search is
//! [`loupe_query::Searcher::search`] on a blocking thread, under a permit that bounds how much model work
//! runs at once; an index job is [`loupe_indexer::index_path`] on a worker thread, one at a time.
//!
//! Safety rules, enforced here and nowhere else: media and thumbnails are served only for files
//! inside the index's roots (after resolving symbolic links); uploads and image sizes are bounded;
//! a non-loopback bind needs an API key unless explicitly waived; CORS is off unless origins are
//! listed; every search has a deadline.
//!
//! Not for: search logic (loupe-query), indexing logic (loupe-indexer), or reading configuration
//! files (the `loupe` command builds a [`ServerConfig`]).

mod answers;
mod error;
mod jobs;
mod links;
mod media;
mod metrics;
mod routes;

pub use error::{ApiError, Error};
pub use links::{ApiLinks, media_url, thumbnail_url};

use loupe_models::ModelSet;
use loupe_query::Searcher;
use loupe_store::Index;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How the server runs. Every field has a default; the `loupe` command fills it from its config
/// file, the environment and flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on (loopback by default).
    pub bind: std::net::IpAddr,
    pub port: u16,
    /// Bearer key every `/v1` route needs (also accepted as `?access_token=` for media in `<img>`
    /// and `<video>` tags). None: no key.
    pub api_key: Option<String>,
    /// Listen on a non-loopback address without an API key (refused otherwise).
    pub allow_no_key: bool,
    /// Origins allowed by CORS (empty: CORS off, the default).
    pub cors_origins: Vec<String>,
    /// Largest request body (an uploaded image), in bytes.
    pub max_upload_bytes: usize,
    /// Deadline for one search, in seconds.
    pub request_timeout_s: f64,
    /// Searches that may run model work at once (default: the number of cores).
    pub model_concurrency: usize,
    /// Searches that may wait for a permit before new ones are refused with 503.
    pub max_queued: usize,
    /// Folders `POST /v1/index` may add besides the roots the index already has.
    pub roots: Vec<PathBuf>,
    /// Answers (`/v1/ask`, `/v1/chat/completions`) that may generate at once.
    pub answer_concurrency: usize,
    /// Answers that may wait beyond those before new ones are refused with 503.
    pub answer_max_queued: usize,
    /// Deadline for one answer, in seconds (generation on a CPU is slow).
    pub answer_timeout_s: f64,
    /// The answerers (`[answer]` in the config file).
    pub answer: loupe_answer::config::AnswerConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            port: 7878,
            api_key: None,
            allow_no_key: false,
            cors_origins: Vec::new(),
            max_upload_bytes: 32 << 20,
            request_timeout_s: 30.0,
            model_concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            max_queued: 64,
            roots: Vec::new(),
            answer_concurrency: 2,
            answer_max_queued: 16,
            answer_timeout_s: 300.0,
            answer: loupe_answer::config::AnswerConfig::default(),
        }
    }
}

impl ServerConfig {
    /// Refuses settings that are unsafe or cannot work.
    pub fn validate(&self) -> Result<(), Error> {
        if !self.bind.is_loopback() && self.api_key.is_none() && !self.allow_no_key {
            return Err(Error::Config(format!(
                "binding {} (not loopback) needs an API key (api_key in the config file or \
                 LOUPE_API_KEY), or allow_no_key = true to serve the library to the network unprotected",
                self.bind
            )));
        }
        if let Some(k) = &self.api_key
            && k.len() < 16
        {
            return Err(Error::Config("api_key must be at least 16 characters".into()));
        }
        if self.model_concurrency == 0 {
            return Err(Error::Config("model_concurrency must be at least 1".into()));
        }
        if self.request_timeout_s.is_nan() || self.request_timeout_s <= 0.0 {
            return Err(Error::Config("request_timeout_s must be above 0".into()));
        }
        if self.answer_timeout_s.is_nan() || self.answer_timeout_s <= 0.0 {
            return Err(Error::Config("answer_timeout_s must be above 0".into()));
        }
        if self.answer_concurrency == 0 {
            return Err(Error::Config("answer_concurrency must be at least 1".into()));
        }
        Ok(())
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.request_timeout_s)
    }

    fn answer_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.answer_timeout_s)
    }
}

/// The models the server keeps loaded. CLIP and the sentence embedder answer queries (through
/// the server's [`Searcher`]); all of them serve index jobs.
pub struct Models {
    pub set: ModelSet,
    /// Who answers questions (extractive always; local and OpenAI-compatible when configured).
    pub answerers: loupe_answer::Answerers,
}

/// Everything a handler can reach.
pub(crate) struct AppState {
    pub config: ServerConfig,
    pub index: Arc<Index>,
    pub models: Models,
    /// The query side over `index`, built once with the models' encoders and the API's links.
    pub searcher: Searcher,
    /// Canonical roots media may be served from.
    pub roots: std::sync::RwLock<Vec<PathBuf>>,
    /// Permits for model work; waiting requests beyond `max_queued` are refused.
    pub permits: Arc<tokio::sync::Semaphore>,
    pub queue: Arc<tokio::sync::Semaphore>,
    /// The same for answers.
    pub answer_permits: Arc<tokio::sync::Semaphore>,
    pub answer_queue: Arc<tokio::sync::Semaphore>,
    pub metrics: metrics::Metrics,
    pub jobs: jobs::Jobs,
    pub thumbs: media::ThumbCache,
    pub started: std::time::Instant,
}

impl AppState {
    /// Refreshes the canonical roots from the index's catalog and the configured ones.
    pub fn refresh_roots(&self) -> Result<(), Error> {
        let mut roots: Vec<PathBuf> = self
            .index
            .catalog()
            .roots()?
            .into_iter()
            .map(PathBuf::from)
            .chain(self.config.roots.iter().cloned())
            .filter_map(|p| p.canonicalize().ok())
            .collect();
        roots.sort();
        roots.dedup();
        if let Ok(mut r) = self.roots.write() {
            *r = roots;
        }
        Ok(())
    }

    /// Whether a canonical path lies inside one of the roots.
    pub fn inside_roots(&self, canonical: &Path) -> bool {
        self.roots
            .read()
            .map(|r| r.iter().any(|root| canonical.starts_with(root)))
            .unwrap_or(false)
    }
}

/// A server ready to accept connections.
pub struct Server {
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
}

impl Server {
    /// Binds the port and prepares the state. Call inside a tokio runtime.
    pub async fn bind(config: ServerConfig, index: Index, models: Models) -> Result<Self, Error> {
        config.validate()?;
        let index = Arc::new(index);
        let searcher =
            Searcher::new(index.clone(), models.set.visual(), models.set.sentence()).with_links(ApiLinks);
        let addr = SocketAddr::new(config.bind, config.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
        let state = Arc::new(AppState {
            permits: Arc::new(tokio::sync::Semaphore::new(config.model_concurrency)),
            queue: Arc::new(tokio::sync::Semaphore::new(
                config.model_concurrency + config.max_queued,
            )),
            answer_permits: Arc::new(tokio::sync::Semaphore::new(config.answer_concurrency)),
            answer_queue: Arc::new(tokio::sync::Semaphore::new(
                config.answer_concurrency + config.answer_max_queued,
            )),
            metrics: metrics::Metrics::default(),
            jobs: jobs::Jobs::default(),
            thumbs: media::ThumbCache::new(1024),
            roots: std::sync::RwLock::new(Vec::new()),
            started: std::time::Instant::now(),
            config,
            index,
            models,
            searcher,
        });
        state.refresh_roots()?;
        Ok(Self { state, listener })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, Error> {
        self.listener
            .local_addr()
            .map_err(|e| Error::Config(format!("no local address: {e}")))
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets requests in flight finish, and
    /// stops a running index job at its next batch boundary (the index stays consistent).
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let state = self.state.clone();
        let worker = jobs::spawn_worker(state.clone());
        // Load the local model in the background, so the first question does not wait for it.
        let warm = state.clone();
        std::thread::spawn(move || {
            if let Err(e) = warm.models.answerers.warm_up() {
                tracing::warn!("the local answerer could not start: {e}");
            }
        });
        let app = routes::router(state.clone());
        axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| Error::Config(format!("server: {e}")))?;
        state.jobs.shutdown();
        // The worker finishes the batch in progress, then returns.
        let _ = tokio::task::spawn_blocking(move || worker.join()).await;
        Ok(())
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_loopback_needs_a_key() {
        let mut c = ServerConfig {
            bind: "0.0.0.0".parse().unwrap(),
            ..ServerConfig::default()
        };
        assert!(c.validate().is_err());
        c.api_key = Some("short".into());
        assert!(c.validate().is_err());
        c.api_key = Some("a-long-enough-secret-key".into());
        assert!(c.validate().is_ok());
        c.api_key = None;
        c.allow_no_key = true;
        assert!(c.validate().is_ok());
        assert!(ServerConfig::default().validate().is_ok());
    }

    #[test]
    fn config_file_keys_are_checked() {
        let c: ServerConfig = serde_json::from_str(r#"{"port": 9000}"#).unwrap();
        assert_eq!(c.port, 9000);
        assert!(c.bind.is_loopback());
        assert!(serde_json::from_str::<ServerConfig>(r#"{"prot": 9000}"#).is_err());
    }
}
