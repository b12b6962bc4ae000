//! The one list of error codes: what `ErrorBody.code` can say, on the command line (`--json`) and over
//! HTTP alike. Each code is documented once, on its variant; its HTTP status is [`ErrorCode::http_status`]
//! and its exit status [`ErrorCode::exit_code`]. The OpenAPI document lists them all, with both numbers.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A stable, machine-readable error code: the `code` of an `ErrorBody`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is malformed or asks for something impossible (a bad field, a bad id, a bad
    /// path, an unknown answerer).
    BadRequest,
    /// The query image cannot be decoded (not an image, truncated, or over the decoding limits). A
    /// thumbnail whose photo cannot be decoded answers 422 with this code.
    BadImage,
    /// The server needs an API key and the request has none, or the wrong one.
    Unauthorized,
    /// The file lies outside the roots this index (or server) may read or index.
    Forbidden,
    /// No such asset, segment, thumbnail, job or route.
    NotFound,
    /// The upload (a body or a multipart part) is over the size limit.
    TooLarge,
    /// Another process holds the index's write lock.
    IndexBusy,
    /// There is no index at the given folder (build one with `loupe index`).
    NoIndex,
    /// The index was built with another model than the one asked to write or query it.
    ModelMismatch,
    /// A model failed to load or run (ONNX Runtime, tokenizer, missing or damaged model files).
    ModelError,
    /// The disk holding the index is (nearly) full; nothing was written past the last commit.
    DiskFull,
    /// The vector store, the text index or the catalog failed.
    StoreError,
    /// The Qdrant server holding the index's vectors did not answer, even after retries. Nothing
    /// past the last commit was kept; run again once it is back.
    StoreUnavailable,
    /// Reading or writing a file of the index failed.
    IoError,
    /// The configuration cannot work (for example an answerer without the settings it needs).
    Config,
    /// An unexpected failure inside the server (a worker thread gone, a task that panicked).
    Internal,
    /// The answerer failed: the local model worker, or the OpenAI-compatible server it calls.
    AnswererFailed,
    /// Too many requests are waiting; try again shortly.
    Overloaded,
    /// The request took longer than its deadline.
    Timeout,
    /// An index job stopped because the server shut down; submit it again to finish. Only in a
    /// job's `error`, never an HTTP response of its own.
    Interrupted,
    /// An index job failed (the index or a model stopped it). Only in a job's `error`, never an
    /// HTTP response of its own.
    IndexFailed,
    /// A command failed with no more specific code (a missing file, an unreadable folder...). The
    /// command line's catch-all; the HTTP API says `internal` instead.
    Error,
}

impl ErrorCode {
    /// Every code, in the order of the enum.
    pub const ALL: &'static [ErrorCode] = &[
        Self::BadRequest,
        Self::BadImage,
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotFound,
        Self::TooLarge,
        Self::IndexBusy,
        Self::NoIndex,
        Self::ModelMismatch,
        Self::ModelError,
        Self::DiskFull,
        Self::StoreError,
        Self::StoreUnavailable,
        Self::IoError,
        Self::Config,
        Self::Internal,
        Self::AnswererFailed,
        Self::Overloaded,
        Self::Timeout,
        Self::Interrupted,
        Self::IndexFailed,
        Self::Error,
    ];

    /// The wire string (what serde writes).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::BadImage => "bad_image",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::TooLarge => "too_large",
            Self::IndexBusy => "index_busy",
            Self::NoIndex => "no_index",
            Self::ModelMismatch => "model_mismatch",
            Self::ModelError => "model_error",
            Self::DiskFull => "disk_full",
            Self::StoreError => "store_error",
            Self::StoreUnavailable => "store_unavailable",
            Self::IoError => "io_error",
            Self::Config => "config",
            Self::Internal => "internal",
            Self::AnswererFailed => "answerer_failed",
            Self::Overloaded => "overloaded",
            Self::Timeout => "timeout",
            Self::Interrupted => "interrupted",
            Self::IndexFailed => "index_failed",
            Self::Error => "error",
        }
    }

    /// The HTTP status an error with this code answers with. `interrupted` and `index_failed` only
    /// appear inside a job (which itself answers 200); theirs is nominal.
    pub fn http_status(self) -> u16 {
        match self {
            Self::BadRequest | Self::BadImage => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::IndexBusy => 409,
            Self::TooLarge => 413,
            Self::ModelMismatch
            | Self::ModelError
            | Self::DiskFull
            | Self::StoreError
            | Self::IoError
            | Self::Config
            | Self::Internal
            | Self::Interrupted
            | Self::IndexFailed
            | Self::Error => 500,
            Self::AnswererFailed => 502,
            Self::NoIndex | Self::Overloaded | Self::StoreUnavailable => 503,
            Self::Timeout => 504,
        }
    }

    /// The command line's exit status for an error with this code: 2 when the request itself is
    /// wrong (as for a usage error), 1 for every other failure.
    pub fn exit_code(self) -> i32 {
        match self {
            Self::BadRequest => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    /// Fails to compile when a variant is added without being listed in `ALL` (and below).
    fn listed(c: ErrorCode) -> bool {
        use ErrorCode::*;
        match c {
            BadRequest | BadImage | Unauthorized | Forbidden | NotFound | TooLarge | IndexBusy | NoIndex
            | ModelMismatch | ModelError | DiskFull | StoreError | StoreUnavailable | IoError | Config
            | Internal | AnswererFailed | Overloaded | Timeout | Interrupted | IndexFailed | Error => {
                ErrorCode::ALL.contains(&c)
            }
        }
    }

    #[test]
    fn every_code_round_trips_and_has_a_status_and_exit_code() {
        let mut seen = std::collections::HashSet::new();
        for &c in ErrorCode::ALL {
            assert!(listed(c), "{c:?} missing from ALL");
            assert!(seen.insert(c), "{c:?} listed twice");
            let wire = serde_json::to_string(&c).expect("serialize");
            assert_eq!(
                wire,
                format!("\"{}\"", c.as_str()),
                "as_str disagrees with serde for {c:?}"
            );
            assert_eq!(c.to_string(), c.as_str());
            let back: ErrorCode = serde_json::from_str(&wire).expect("deserialize");
            assert_eq!(back, c);
            let s = c.http_status();
            assert!((400..600).contains(&s), "{c:?}: {s} is not an error status");
            assert!(matches!(c.exit_code(), 1 | 2), "{c:?}");
        }
    }

    #[test]
    fn statuses_and_exit_codes_are_todays() {
        use ErrorCode::*;
        let want: &[(ErrorCode, u16, i32)] = &[
            (BadRequest, 400, 2),
            (BadImage, 400, 1),
            (Unauthorized, 401, 1),
            (Forbidden, 403, 1),
            (NotFound, 404, 1),
            (TooLarge, 413, 1),
            (IndexBusy, 409, 1),
            (NoIndex, 503, 1),
            (ModelMismatch, 500, 1),
            (ModelError, 500, 1),
            (DiskFull, 500, 1),
            (StoreError, 500, 1),
            (StoreUnavailable, 503, 1),
            (IoError, 500, 1),
            (Config, 500, 1),
            (Internal, 500, 1),
            (AnswererFailed, 502, 1),
            (Overloaded, 503, 1),
            (Timeout, 504, 1),
            (Interrupted, 500, 1),
            (IndexFailed, 500, 1),
            (Error, 500, 1),
        ];
        assert_eq!(want.len(), ErrorCode::ALL.len());
        for &(c, status, exit) in want {
            assert_eq!((c.http_status(), c.exit_code()), (status, exit), "{c:?}");
        }
    }

    #[test]
    fn unknown_codes_are_refused() {
        assert!(serde_json::from_str::<ErrorCode>("\"no_such_code\"").is_err());
        assert!(serde_json::from_str::<ErrorCode>("\"BadRequest\"").is_err());
    }
}
