//! The crate's error type, and the one JSON error shape every route answers with.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use loupe_schemas::ErrorBody;

/// Everything that can stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] loupe_store::Error),
}

/// An error answer: a status and an [`ErrorBody`] with a stable code.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, "{}", self.message);
        }
        let body = ErrorBody {
            code: self.code.to_string(),
            message: self.message,
        };
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<loupe_store::Error> for ApiError {
    fn from(e: loupe_store::Error) -> Self {
        let status = match &e {
            loupe_store::Error::Busy(_) => StatusCode::CONFLICT,
            loupe_store::Error::NoIndex(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.code(), e.to_string())
    }
}

impl From<loupe_query::Error> for ApiError {
    fn from(e: loupe_query::Error) -> Self {
        use loupe_query::Error as Q;
        match e {
            Q::Store(s) => s.into(),
            Q::BadRequest(m) => Self::bad_request(m),
            Q::BadImage(m) => Self::new(StatusCode::BAD_REQUEST, "bad_image", m),
            Q::NotFound(m) => Self::not_found(m),
            Q::Model(m) => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "model_error", m.to_string()),
            Q::Internal(m) => Self::internal(m),
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Store(s) => s.into(),
            Error::Config(m) => Self::internal(m),
        }
    }
}
