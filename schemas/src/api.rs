//! Types only the HTTP API speaks: asset details, index jobs, readiness.

use crate::{Asset, ErrorBody, IndexReport, Segment};
use serde::{Deserialize, Serialize};

/// An asset with its segments, as `GET /v1/assets/{id}` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AssetDetail {
    pub asset: Asset,
    /// Its segments: the photo, the shots and transcript spans of a video, the pages of a document.
    pub segments: Vec<SegmentDetail>,
    /// The file itself (`/v1/assets/{id}/media`, with HTTP Range support).
    pub media_url: String,
}

/// One segment of an asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SegmentDetail {
    pub segment: Segment,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    /// Transcript or page text, when the segment has text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// `POST /v1/index`: add or refresh a folder or file under one of the server's library roots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IndexJobRequest {
    /// Absolute path of a folder or file.
    pub path: String,
}

/// Where an index job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

/// An index job, as `POST /v1/index` and `GET /v1/jobs/{id}` return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Job {
    pub id: String,
    pub path: String,
    pub state: JobState,
    /// Files found by the walk so far.
    pub files_seen: u64,
    /// Files to embed (known once the walk is over).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_total: Option<u64>,
    /// Files embedded and written so far.
    pub files_done: u64,
    /// Seconds since the epoch.
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<i64>,
    /// What the run did, once it is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<IndexReport>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// `GET /readyz` and `GET /v1/status`: what the server holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ServerStatus {
    pub ready: bool,
    pub version: String,
    pub visual_model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_model: Option<String>,
    /// Files, assets and vector points in the index.
    pub files: u64,
    pub assets: u64,
    pub points: u64,
    /// Folders the index was built from; media is served only from inside them.
    pub roots: Vec<String>,
    /// True when this server holds the index's write lock (so `POST /v1/index` works).
    pub writable: bool,
}
