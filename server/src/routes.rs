//! The routes: thin handlers over [`AppState`], plus the middleware that authenticates, measures
//! and logs every request.

use crate::AppState;
use crate::error::ApiError;
use crate::media;
use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use loupe_schemas::api::{AssetDetail, IndexJobRequest, SegmentDetail, ServerStatus};
use loupe_schemas::{AssetId, ErrorCode, ImageQuery, Locator, SearchRequest, SearchResponse, Uuid};
use std::sync::Arc;
use std::time::Instant;
use tower::ServiceExt as _;

type S = State<Arc<AppState>>;

/// The web page (one file: markup, style and script).
const PAGE: &str = include_str!("../web/index.html");

pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/v1/search", post(search))
        .route("/v1/assets/{id}", get(asset))
        .route("/v1/assets/{id}/thumbnail", get(thumbnail))
        .route("/v1/assets/{id}/media", get(media_file))
        .route("/v1/index", post(start_job))
        .route("/v1/jobs/{id}", get(job))
        .route("/v1/status", get(status))
        .route("/v1/ask", post(crate::answers::ask))
        .route("/v1/chat/completions", post(crate::answers::chat_completions))
        .route("/v1/models", get(crate::answers::models))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth));
    let open = Router::new()
        .route("/", get(page))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/openapi.json", get(openapi));
    let mut app = api
        .merge(open)
        .fallback(|| async { ApiError::not_found("no such route") })
        .layer(DefaultBodyLimit::max(state.config.max_upload_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), observe));
    if !state.config.cors_origins.is_empty() {
        let origins: Vec<HeaderValue> = state
            .config
            .cors_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        app = app.layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(origins)
                .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::RANGE]),
        );
    }
    app.with_state(state)
}

/// Measures and logs each request (route template, not the raw path, so labels stay bounded).
async fn observe(State(s): S, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = req.method().to_string();
    let started = Instant::now();
    let mut resp = next.run(req).await;
    let secs = started.elapsed().as_secs_f64();
    let status = resp.status().as_u16();
    s.metrics.request(&route, &method, status, secs);
    tracing::info!(
        method = %method,
        route = %route,
        status,
        ms = secs * 1000.0,
        "request"
    );
    resp.headers_mut()
        .insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    resp
}

/// Constant-time comparison, so the key cannot be guessed byte by byte from timings.
fn same_key(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The API key, when the server has one: `Authorization: Bearer KEY`, or `?access_token=KEY` for
/// what a page loads through `<img>` and `<video>` tags.
async fn auth(State(s): S, req: Request, next: Next) -> Response {
    let Some(key) = &s.config.api_key else {
        return next.run(req).await;
    };
    let header_key = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let query_key = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("access_token=")));
    if header_key
        .or(query_key)
        .is_some_and(|k| same_key(k.as_bytes(), key.as_bytes()))
    {
        return next.run(req).await;
    }
    let mut resp = ApiError::new(
        ErrorCode::Unauthorized,
        "this server needs an API key: Authorization: Bearer KEY",
    )
    .into_response();
    resp.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    resp
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data: blob:; media-src 'self'; \
                 style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
            ),
        ],
        Html(PAGE),
    )
        .into_response()
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        loupe_schemas::openapi::document_text(),
    )
        .into_response()
}

/// A JSON body, with axum's rejections turned into the API's error shape.
async fn json_body<T: serde::de::DeserializeOwned>(
    req: Request,
    state: &Arc<AppState>,
) -> Result<T, ApiError> {
    match Json::<T>::from_request(req, state).await {
        Ok(Json(v)) => Ok(v),
        // Syntax, type and content-type problems are all a bad request; only size differs.
        Err(rej) if rej.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Err(ApiError::new(ErrorCode::TooLarge, rej.body_text()))
        }
        Err(rej) => Err(ApiError::bad_request(rej.body_text())),
    }
}

/// The search request from a JSON body, or from a multipart form with a `request` part (JSON) and an
/// `image` part (the file).
async fn read_search(req: Request, state: &Arc<AppState>) -> Result<SearchRequest, ApiError> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        return json_body(req, state).await;
    }
    // Multipart rejections keep axum's status; only the code is ours.
    let too_large = |e: axum::extract::multipart::MultipartError| {
        let status = e.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            ErrorCode::TooLarge
        } else {
            ErrorCode::BadRequest
        };
        ApiError::new(code, e.body_text()).with_status(status)
    };
    let mut form = axum::extract::Multipart::from_request(req, state)
        .await
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, e.body_text()).with_status(e.status()))?;
    let mut request: Option<SearchRequest> = None;
    let mut image: Option<Vec<u8>> = None;
    while let Some(field) = form.next_field().await.map_err(too_large)? {
        match field.name() {
            Some("request") => {
                let text = field.text().await.map_err(too_large)?;
                request = Some(
                    serde_json::from_str(&text)
                        .map_err(|e| ApiError::bad_request(format!("the request part: {e}")))?,
                );
            }
            Some("image") => image = Some(field.bytes().await.map_err(too_large)?.to_vec()),
            _ => {}
        }
    }
    let mut request = request.unwrap_or_else(|| SearchRequest::text(""));
    if request.text.as_deref() == Some("") {
        request.text = None;
    }
    if let Some(bytes) = image {
        use base64::Engine as _;
        if request.image.is_some() {
            return Err(ApiError::bad_request(
                "give the image as the `image` part or in the request, not both",
            ));
        }
        request.image = Some(ImageQuery::Base64 {
            data: base64::engine::general_purpose::STANDARD.encode(bytes),
        });
    }
    Ok(request)
}

async fn search(State(s): S, req: Request) -> Result<Json<SearchResponse>, ApiError> {
    let request = read_search(req, &s).await?;
    refuse_path_image(
        request.image.as_ref(),
        "upload the image (multipart or base64) or name an asset",
    )?;
    let resp = run_model_work(&s, move |st| st.searcher.search(&request).map_err(ApiError::from)).await?;
    for run in &resp.signals {
        s.metrics.signal(run.signal.as_str(), run.took_ms / 1000.0);
    }
    Ok(Json(resp))
}

/// Files on the server's disk are not for HTTP clients: an image query naming a path is refused,
/// saying `how` to send it instead.
pub(crate) fn refuse_path_image(q: Option<&ImageQuery>, how: &str) -> Result<(), ApiError> {
    if matches!(q, Some(ImageQuery::Path { .. })) {
        return Err(ApiError::bad_request(format!(
            "image paths are for the command line; {how}"
        )));
    }
    Ok(())
}

/// Runs model or decoding work on a blocking thread under a permit, within the request deadline.
/// Too many waiting: 503 at once. Past the deadline: 504 (the work finishes in the background,
/// still holding its permit, so load cannot pile up behind the caller's back).
async fn run_model_work<T: Send + 'static>(
    s: &Arc<AppState>,
    work: impl FnOnce(&AppState) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let overloaded = || {
        ApiError::new(
            ErrorCode::Overloaded,
            "too many searches are waiting; try again shortly",
        )
    };
    let Ok(_queued) = s.queue.clone().try_acquire_owned() else {
        s.metrics.rejected();
        return Err(overloaded());
    };
    let deadline = tokio::time::Instant::now() + s.config.timeout();
    let timeout = || ApiError::new(ErrorCode::Timeout, "the search took too long");
    let permit = tokio::time::timeout_at(deadline, s.permits.clone().acquire_owned())
        .await
        .map_err(|_| timeout())?
        .map_err(|_| overloaded())?;
    let st = s.clone();
    let task = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work(&st)
    });
    match tokio::time::timeout_at(deadline, task).await {
        Err(_) => Err(timeout()),
        Ok(Err(e)) => Err(ApiError::internal(format!("the search failed: {e}"))),
        Ok(Ok(r)) => r,
    }
}

fn parse_asset(id: &str) -> Result<AssetId, ApiError> {
    id.parse().map_err(ApiError::bad_request)
}

fn load_asset(s: &AppState, id: &AssetId) -> Result<loupe_store::AssetRecord, ApiError> {
    s.index
        .asset(id)?
        .ok_or_else(|| ApiError::not_found(format!("asset {id} is not in the index")))
}

async fn asset(State(s): S, Path(id): Path<String>) -> Result<Json<AssetDetail>, ApiError> {
    let id = parse_asset(&id)?;
    let rec = load_asset(&s, &id)?;
    let ids: Vec<Uuid> = rec.segments.iter().map(|seg| seg.id).collect();
    let mut texts = s.index.text().segment_texts(&ids, None)?;
    let segments = rec
        .segments
        .iter()
        .map(|seg| SegmentDetail {
            thumbnail_url: match seg.locator {
                Locator::Span { .. } => None,
                _ => crate::thumbnail_url(&rec.asset, seg),
            },
            text: texts.remove(&seg.id).map(|t| t.body).filter(|b| !b.is_empty()),
            segment: seg.clone(),
        })
        .collect();
    Ok(Json(AssetDetail {
        media_url: crate::media_url(&rec.asset.id),
        asset: rec.asset,
        segments,
    }))
}

#[derive(serde::Deserialize)]
struct ThumbQuery {
    segment: Option<Uuid>,
}

fn jpeg(bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            // Content-addressed: an asset id (and its segments) never changes meaning.
            (header::CACHE_CONTROL, "private, max-age=86400"),
        ],
        bytes,
    )
        .into_response()
}

async fn thumbnail(
    State(s): S,
    Path(id): Path<String>,
    Query(q): Query<ThumbQuery>,
) -> Result<Response, ApiError> {
    let id = parse_asset(&id)?;
    let rec = load_asset(&s, &id)?;
    if !media::has_picture(rec.asset.kind) {
        return Err(ApiError::not_found("a sound recording has no picture"));
    }
    let segment = match q.segment {
        Some(seg) => Some(
            rec.segment(seg)
                .ok_or_else(|| ApiError::not_found(format!("segment {seg} is not part of asset {id}")))?
                .clone(),
        ),
        // A video's first keyframe, a document's first page.
        None => rec
            .segments
            .iter()
            .find(|seg| matches!(seg.locator, Locator::Shot { .. } | Locator::Page { .. }))
            .cloned(),
    };
    if let Some(seg) = segment
        && !matches!(seg.locator, Locator::Whole)
    {
        let path = s.index.thumbnail_path(seg.id);
        return match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(jpeg(bytes)),
            Err(_) => Err(ApiError::not_found(format!(
                "segment {} has no thumbnail",
                seg.id
            ))),
        };
    }
    if rec.asset.kind != loupe_schemas::AssetKind::Image {
        return Err(ApiError::not_found(format!("asset {id} has no thumbnail")));
    }
    if let Some(bytes) = s.thumbs.get(id.as_str()) {
        return Ok(jpeg(bytes));
    }
    let asset = rec.asset.clone();
    let bytes = run_model_work(&s, move |st| {
        let path = media::resolve_file(st, &asset)?;
        media::photo_thumbnail(&path)
    })
    .await?;
    s.thumbs.put(id.to_string(), bytes.clone());
    Ok(jpeg(bytes))
}

async fn media_file(State(s): S, Path(id): Path<String>, req: Request) -> Result<Response, ApiError> {
    let id = parse_asset(&id)?;
    let rec = load_asset(&s, &id)?;
    let path = media::resolve_file(&s, &rec.asset)?;
    // Range requests, conditional requests and content types come from tower-http.
    let resp = tower_http::services::ServeFile::new(&path)
        .oneshot(req)
        .await
        .map_err(|e| ApiError::internal(format!("serving {}: {e}", path.display())))?;
    let mut resp = resp.map(Body::new);
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    Ok(resp)
}

async fn start_job(State(s): S, req: Request) -> Result<Response, ApiError> {
    let body: IndexJobRequest = json_body(req, &s).await?;
    let path = std::path::Path::new(&body.path);
    if !path.is_absolute() {
        return Err(ApiError::bad_request("path must be absolute"));
    }
    let canonical = path
        .canonicalize()
        .map_err(|e| ApiError::bad_request(format!("{}: {e}", body.path)))?;
    if !s.inside_roots(&canonical) {
        return Err(ApiError::forbidden(format!(
            "{} is outside the library roots this server may index (the index's roots and the \
             configured `roots`)",
            canonical.display()
        )));
    }
    let job = s
        .jobs
        .submit(canonical.to_string_lossy().into_owned())
        .ok_or_else(|| ApiError::internal("the job table is unavailable"))?;
    Ok((StatusCode::ACCEPTED, Json(job)).into_response())
}

async fn job(State(s): S, Path(id): Path<String>) -> Result<Response, ApiError> {
    let job = s
        .jobs
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
    Ok(Json(job).into_response())
}

fn server_status(s: &AppState) -> Result<ServerStatus, ApiError> {
    let (files, assets) = s.index.catalog().counts()?;
    let points = s.index.vectors().count()? as u64;
    let roots = s
        .roots
        .read()
        .map(|r| r.iter().map(|p| p.to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    Ok(ServerStatus {
        ready: true,
        version: env!("CARGO_PKG_VERSION").to_string(),
        visual_model: s.index.meta().visual_model.clone(),
        text_model: s.index.meta().text_model.clone(),
        files,
        assets,
        points,
        roots,
        writable: true,
    })
}

/// [`server_status`] off the async workers: counting points may wait on a Qdrant server.
async fn status_blocking(s: std::sync::Arc<AppState>) -> Result<ServerStatus, ApiError> {
    tokio::task::spawn_blocking(move || server_status(&s))
        .await
        .map_err(|e| ApiError::internal(format!("status task: {e}")))?
}

async fn status(State(s): S) -> Result<Json<ServerStatus>, ApiError> {
    Ok(Json(status_blocking(s).await?))
}

async fn ready(State(s): S) -> Response {
    match status_blocking(s).await {
        Ok(st) => Json(st).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Resident memory of this process, from /proc (Linux); 0 elsewhere.
fn resident_bytes() -> f64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|t| t.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |pages| pages * 4096.0)
}

async fn metrics(State(s): S) -> Response {
    let index = s.clone();
    let points = tokio::task::spawn_blocking(move || index.index.vectors().count().unwrap_or(0))
        .await
        .unwrap_or(0) as f64;
    let in_flight = (s.config.model_concurrency - s.permits.available_permits()) as f64;
    let body = s.metrics.render(&[
        ("loupe_index_points", "Vector points in the index.", points),
        (
            "loupe_model_work_in_flight",
            "Searches running model work now.",
            in_flight,
        ),
        (
            "loupe_index_jobs_active",
            "Index jobs queued or running.",
            f64::from(u8::from(s.jobs.busy())),
        ),
        (
            "loupe_process_resident_bytes",
            "Resident memory of the server.",
            resident_bytes(),
        ),
        (
            "loupe_uptime_seconds",
            "Seconds since the server started.",
            s.started.elapsed().as_secs_f64(),
        ),
    ]);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
