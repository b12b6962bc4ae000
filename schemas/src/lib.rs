//! loupe-schemas: the contract between Loupe's parts and its users.
//!
//! Every type that crosses a boundary lives here: what the indexer writes (assets, segments),
//! what a search asks for and returns (requests, hits, per-signal explanations), what a model
//! folder declares (manifests), and the JSON printed by `--json`. The types are plain data
//! (serde + schemars), so the CLI, the HTTP API and the OpenAPI document all speak the same words.
//!
//! Not for: behaviour. No I/O, no models, no storage here.

pub mod answer;
pub mod api;
pub mod error;
pub mod llm;
pub mod openapi;

use serde::{Deserialize, Serialize};
use std::fmt;

pub use error::ErrorCode;
pub use uuid::Uuid;

/// What kind of media an asset is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AssetKind {
    Image,
    Video,
    Audio,
    Document,
}

impl AssetKind {
    pub const ALL: [AssetKind; 4] = [Self::Image, Self::Video, Self::Audio, Self::Document];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Document => "document",
        }
    }
}

impl fmt::Display for AssetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for AssetKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown kind '{s}' (expected image, video, audio or document)"))
    }
}

/// Content address of an asset: the BLAKE3 hash of its bytes, as 64 lowercase hex digits.
/// Moves and renames keep the id; an edit makes a new asset.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct AssetId(String);

impl AssetId {
    /// Builds an id from a 32-byte hash.
    pub fn from_hash(bytes: &[u8; 32]) -> Self {
        let mut s = String::with_capacity(64);
        for b in bytes {
            s.push_str(&format!("{b:02x}"));
        }
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AssetId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        if s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Self(s))
        } else {
            Err(format!("asset id must be 64 lowercase hex digits, got '{s}'"))
        }
    }
}

impl std::str::FromStr for AssetId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::try_from(s.to_string())
    }
}

impl From<AssetId> for String {
    fn from(id: AssetId) -> Self {
        id.0
    }
}

impl fmt::Display for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One file of the library.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Asset {
    pub id: AssetId,
    pub kind: AssetKind,
    /// Absolute path of the file (the first one seen when identical copies exist).
    pub path: String,
    /// Every path that holds these bytes, sorted.
    pub paths: Vec<String>,
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<u32>,
    /// Capture time from the file's metadata (EXIF DateTimeOriginal), RFC 3339, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captured_at: Option<String>,
    /// Spoken language of a video's or recording's transcript (ISO 639-1, e.g. `en`), when it has speech.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

impl Asset {
    /// The date a user means by "when": capture time when known, else the file's mtime.
    /// Seconds since the Unix epoch.
    pub fn date_ts(&self, captured_ts: Option<i64>) -> i64 {
        captured_ts.unwrap_or(self.mtime)
    }
}

/// Where inside an asset a segment sits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Locator {
    /// The whole asset (a photo).
    Whole,
    /// A shot of a video: its time span and the time of the frame that represents it.
    Shot { t_start: f64, t_end: f64, keyframe: f64 },
    /// A time span of a recording or a video's audio (a transcript segment).
    Span { t_start: f64, t_end: f64 },
    /// A page of a document (1-based), with its size: PDF points for PDF pages, pixels for images.
    Page {
        page: u32,
        #[serde(default)]
        width: f32,
        #[serde(default)]
        height: f32,
    },
}

impl Locator {
    /// The time range of a shot or span.
    pub fn time_range(&self) -> Option<(f64, f64)> {
        match self {
            Self::Shot { t_start, t_end, .. } | Self::Span { t_start, t_end } => Some((*t_start, *t_end)),
            _ => None,
        }
    }

    /// Stable text form used to derive point ids.
    pub fn key(&self) -> String {
        match self {
            Self::Whole => "whole".to_string(),
            Self::Shot { t_start, t_end, .. } => format!("shot:{t_start:.3}-{t_end:.3}"),
            Self::Span { t_start, t_end } => format!("span:{t_start:.3}-{t_end:.3}"),
            Self::Page { page, .. } => format!("page:{page}"),
        }
    }
}

/// Namespace for segment ids (UUIDv5 of asset id + locator key).
pub const SEGMENT_NAMESPACE: Uuid = Uuid::from_u128(0x6c6f_7570_652d_7365_676d_656e_7431_0001);

/// The addressable unit a hit points at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Segment {
    pub id: Uuid,
    pub asset_id: AssetId,
    pub locator: Locator,
}

impl Segment {
    pub fn new(asset_id: AssetId, locator: Locator) -> Self {
        let id = Uuid::new_v5(
            &SEGMENT_NAMESPACE,
            format!("{}/{}", asset_id.as_str(), locator.key()).as_bytes(),
        );
        Self {
            id,
            asset_id,
            locator,
        }
    }
}

/// A spoken word and when it was said (seconds from the start of the file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WordTime {
    pub text: String,
    pub start: f64,
    pub end: f64,
    /// The recogniser's probability for the word's first token.
    pub p: f32,
}

/// A word on a page and where it is. The box is `[x0, y0, x1, y1]` in fractions of the page's width
/// and height (origin top left), so it holds at any rendering size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WordBox {
    pub text: String,
    pub bbox: [f32; 4],
    /// Recogniser confidence (0..1); 1 for words from a PDF's text layer.
    pub conf: f32,
    /// Index of the word's line on the page, in reading order.
    pub line: u32,
}

/// Where a page's text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TextSource {
    /// The PDF's own text layer.
    TextLayer,
    /// Optical character recognition of the page image.
    Ocr,
}

/// The text of one page, in reading order, with word boxes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PageText {
    /// 1-based.
    pub page: u32,
    pub width: f32,
    pub height: f32,
    pub source: TextSource,
    /// Clockwise rotation (0, 90, 180, 270) that was applied to read the page upright.
    #[serde(default)]
    pub rotation: u32,
    /// Lines joined by newlines.
    pub text: String,
    pub words: Vec<WordBox>,
}

/// One stretch of speech, as the recogniser segmented it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TranscriptSegment {
    /// Seconds from the start of the file.
    pub start: f64,
    pub end: f64,
    pub text: String,
    /// Word times, when the recogniser gives them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<WordTime>,
}

/// What was said in a file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Transcript {
    /// ISO 639-1 code (detected by multilingual models; `en` for English-only ones).
    /// Empty when the file holds no speech.
    pub language: String,
    /// `name@fingerprint` of the speech model.
    pub model: String,
    /// Length of the audio (seconds).
    pub duration_s: f64,
    /// How much of it the voice-activity detector passed to the recogniser (seconds).
    pub speech_s: f64,
    pub segments: Vec<TranscriptSegment>,
}

/// A retrieval signal that can contribute to a hit.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// Dense vector in the CLIP space (text tower or image tower query against image vectors).
    Visual,
    /// BM25 over file names, paths, transcripts and OCR text.
    Lexical,
    /// Dense vector in the sentence-embedder space (query text against transcript and OCR text).
    TextDense,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Visual => "visual",
            Self::Lexical => "lexical",
            Self::TextDense => "text_dense",
        }
    }
}

/// One signal's view of a hit, for `explain`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SignalScore {
    pub signal: Signal,
    /// 1-based rank of the segment in this signal's own list.
    pub rank: u32,
    /// The signal's raw score (cosine for dense signals, BM25 for lexical).
    pub score: f32,
}

/// How several signals' ranked lists become one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Fusion {
    /// Reciprocal rank fusion: score = sum over signals of weight / (k + rank).
    Rrf {
        #[serde(default = "default_rrf_k")]
        k: u32,
    },
    /// Weighted sum of each signal's min-max normalised score.
    Weighted {
        #[serde(default = "default_visual_weight")]
        visual: f32,
        #[serde(default = "default_lexical_weight")]
        lexical: f32,
        #[serde(default = "default_text_dense_weight")]
        text_dense: f32,
    },
}

fn default_rrf_k() -> u32 {
    60
}
fn default_visual_weight() -> f32 {
    1.0
}
fn default_lexical_weight() -> f32 {
    0.5
}
fn default_text_dense_weight() -> f32 {
    0.5
}

impl Fusion {
    /// Weighted fusion with the default weights.
    pub fn weighted() -> Self {
        Self::Weighted {
            visual: default_visual_weight(),
            lexical: default_lexical_weight(),
            text_dense: default_text_dense_weight(),
        }
    }
}

impl Default for Fusion {
    fn default() -> Self {
        Self::Rrf { k: default_rrf_k() }
    }
}

/// Filters applied inside every signal (not after the fact), so a filtered query still fills its page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Filters {
    /// Only these kinds (empty = all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<AssetKind>,
    /// Only files under this folder (absolute path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Only assets dated at or after this time (seconds since the epoch; capture time, else mtime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_from: Option<i64>,
    /// Only assets dated before or at this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_to: Option<i64>,
    /// Only videos and recordings at least this long (seconds). Assets without a duration (photos,
    /// documents) never pass a duration filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_min_s: Option<f64>,
    /// Only videos and recordings at most this long (seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_max_s: Option<f64>,
    /// Only these assets (empty = all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub asset_ids: Vec<AssetId>,
}

/// An example image to search by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageQuery {
    /// A file on the machine that runs Loupe (command line only; the HTTP API refuses it).
    Path { path: String },
    /// An asset already in the index ("find similar"): its photo, or its first keyframe or page.
    Asset { id: AssetId },
    /// A segment already in the index ("find similar" on a keyframe or a page).
    Segment { id: Uuid },
    /// The bytes of an image file (JPEG, PNG, WebP, GIF, BMP or TIFF), base64 (standard alphabet).
    Base64 { data: String },
}

/// A search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SearchRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageQuery>,
    #[serde(default = "default_limit")]
    pub limit: usize,
    #[serde(default)]
    pub offset: usize,
    /// Drop hits whose fused score is below this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_threshold: Option<f32>,
    #[serde(default)]
    pub filters: Filters,
    #[serde(default)]
    pub fusion: Fusion,
    #[serde(default)]
    pub group_by: GroupBy,
    /// Where to go on from: the `next_cursor` of an earlier response to the same request (instead
    /// of `offset`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Report each signal's rank and raw score for every hit (`Hit::signals`).
    #[serde(default)]
    pub explain: bool,
}

fn default_limit() -> usize {
    10
}

impl SearchRequest {
    pub fn text(q: impl Into<String>) -> Self {
        Self {
            text: Some(q.into()),
            image: None,
            limit: default_limit(),
            offset: 0,
            score_threshold: None,
            filters: Filters::default(),
            fusion: Fusion::default(),
            group_by: GroupBy::default(),
            cursor: None,
            explain: false,
        }
    }
}

/// One result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Hit {
    /// Fused score (see the response's `fusion`); higher is better.
    pub score: f32,
    pub asset: Asset,
    pub segment: Segment,
    /// Each contributing signal's rank and raw score (with `explain`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signals: Vec<SignalScore>,
    /// For videos and recordings: the moment, i.e. the time range covered by this hit after adjacent
    /// hits of the same file were merged (seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moment: Option<TimeRange>,
    /// How many segments were merged into this hit (1 when nothing was merged).
    pub merged: u32,
    /// Where to open the hit: the file path, with `#t=SECONDS` for a moment or `#page=N` for a page.
    pub deep_link: String,
    /// The same place through the HTTP API: `/v1/assets/{id}/media` with the same fragment.
    pub media_url: String,
    /// A small JPEG of the hit (the photo, the keyframe, the page), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    /// The second to open a video or recording at: the first matched spoken word when the query's
    /// words were found in the transcript, else the start of the moment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<f64>,
    /// The text of the segment (transcript, OCR) around what matched, with the matched words marked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snippet: Option<Snippet>,
    /// For a page: where the query's words are on it (page fractions), in reading order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub boxes: Vec<WordBox>,
}

/// The part of a segment's text that matched, for display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Snippet {
    pub text: String,
    /// Matched words as `[start, end)` byte offsets into `text`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub highlights: Vec<[usize; 2]>,
}

/// A time range in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimeRange {
    pub start: f64,
    pub end: f64,
}

/// How hits are grouped before paging.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// Every segment on its own.
    Segment,
    /// Adjacent hits from the same video or recording merge into one moment (default).
    #[default]
    Moment,
    /// One best hit per file.
    Asset,
}

impl std::str::FromStr for GroupBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "segment" => Ok(Self::Segment),
            "moment" => Ok(Self::Moment),
            "asset" => Ok(Self::Asset),
            _ => Err(format!(
                "unknown grouping '{s}' (expected segment, moment or asset)"
            )),
        }
    }
}

/// How one signal ran for a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SignalRun {
    pub signal: Signal,
    /// Time to encode the query for this signal and search it (milliseconds).
    pub took_ms: f64,
    /// Candidates it returned before fusion.
    pub candidates: usize,
}

/// The result of a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SearchResponse {
    pub hits: Vec<Hit>,
    pub took_ms: f64,
    /// Each signal that ran, with its time and number of candidates (the signals run concurrently).
    pub signals: Vec<SignalRun>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    pub fusion: Fusion,
    /// The model that encoded the query (same as the one that built the index).
    pub visual_model: String,
    /// The sentence embedder that encoded the query for the text space, when the index has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_model: Option<String>,
}

/// A file that could not be indexed, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FileFailure {
    pub path: String,
    pub reason: String,
}

/// What `loupe index` did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IndexReport {
    /// Files seen by the walk (media or not).
    pub seen: u64,
    /// Files whose content was embedded and written.
    pub indexed: u64,
    /// Files already indexed with the same size, mtime and content.
    pub unchanged: u64,
    /// New paths whose content was already indexed (a copy or a move): nothing re-embedded.
    pub linked: u64,
    /// Paths removed from the index because the file is gone.
    pub removed: u64,
    /// Files that are not media Loupe reads.
    pub ignored: u64,
    pub failed: Vec<FileFailure>,
    /// Files that were indexed with something missing (e.g. a video whose sound cannot be decoded).
    #[serde(default)]
    pub warnings: Vec<FileFailure>,
    pub elapsed_s: f64,
    /// Indexed files per wall-clock second.
    pub files_per_s: f64,
    /// True when the run was interrupted before it finished (run again to complete).
    pub interrupted: bool,
}

/// A model folder's manifest (`loupe-model.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModelManifest {
    /// Folder and model name, e.g. `clip-vit-b-32`.
    pub name: String,
    pub role: ModelRole,
    /// Where the files came from (a Hugging Face repo and revision, a package, a generator).
    pub source: String,
    pub licence: String,
    /// Output dimension.
    pub dim: usize,
    /// True for generated test models that only mimic the real model's inputs and outputs.
    #[serde(default)]
    pub test_only: bool,
    pub files: Vec<ModelFile>,
}

impl ModelManifest {
    /// A short fingerprint of the model's weights: the first 16 hex digits of the sha256 of its
    /// files' sha256s. Indexes record it so queries are encoded by the same model.
    pub fn fingerprint(&self) -> String {
        // Deterministic: files are sorted by path when the manifest is written.
        let joined: String = self.files.iter().map(|f| f.sha256.as_str()).collect();
        let h = fnv1a64(joined.as_bytes());
        format!("{h:016x}")
    }

    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

/// FNV-1a, 64 bit: a small, stable, non-cryptographic hash for fingerprints (model files, cursors).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ModelRole {
    /// A CLIP pair: `vision/` and `text/` subfolders in the layout of Qdrant's ONNX repos.
    Clip,
    /// A sentence embedder (MiniLM class).
    TextEmbedder,
    /// A Whisper speech recogniser (whisper.cpp's `ggml-model.bin`).
    Whisper,
    /// A PP-OCR text reader: `det.onnx`, `rec.onnx` (its character list in the `character`
    /// metadata), optionally `cls.onnx`.
    Ocr,
    /// A text-only language model for answers: `model.gguf` (llama.cpp).
    Llm,
    /// A vision-language model for answers: `model.gguf` and its projector `mmproj.gguf` (llama.cpp).
    Vlm,
}

impl ModelRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Clip => "clip",
            Self::TextEmbedder => "text-embedder",
            Self::Whisper => "whisper",
            Self::Ocr => "ocr",
            Self::Llm => "llm",
            Self::Vlm => "vlm",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModelFile {
    /// Path relative to the model folder.
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

/// The one error shape every JSON output uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `model_mismatch` (one of `ErrorCode`).
    pub code: ErrorCode,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_id_validates() {
        assert!(AssetId::try_from("ab".to_string()).is_err());
        assert!(AssetId::try_from("G".repeat(64)).is_err());
        let id = AssetId::from_hash(&[0xab; 32]);
        assert_eq!(id.as_str().len(), 64);
        let back: AssetId = serde_json::from_str(&serde_json::to_string(&id).unwrap()).unwrap();
        assert_eq!(back, id);
    }

    #[test]
    fn segment_ids_are_stable_and_distinct() {
        let a = AssetId::from_hash(&[1; 32]);
        let s1 = Segment::new(a.clone(), Locator::Whole);
        let s2 = Segment::new(a.clone(), Locator::Whole);
        let s3 = Segment::new(
            a,
            Locator::Page {
                page: 1,
                width: 612.0,
                height: 792.0,
            },
        );
        assert_eq!(s1.id, s2.id);
        assert_ne!(s1.id, s3.id);
    }

    #[test]
    fn search_request_defaults() {
        let r: SearchRequest = serde_json::from_str(r#"{"text":"red"}"#).unwrap();
        assert_eq!(r.limit, 10);
        assert_eq!(r.fusion, Fusion::Rrf { k: 60 });
        let w: Fusion = serde_json::from_str(r#"{"method":"weighted","visual":2}"#).unwrap();
        assert_eq!(
            w,
            Fusion::Weighted {
                visual: 2.0,
                lexical: 0.5,
                text_dense: 0.5
            }
        );
    }

    #[test]
    fn kind_parses() {
        assert_eq!("Image".parse::<AssetKind>().unwrap(), AssetKind::Image);
        assert!("photo".parse::<AssetKind>().is_err());
    }
}
