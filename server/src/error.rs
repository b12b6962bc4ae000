//! The crate's error type, and the one JSON error shape every route answers with.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use loupe_schemas::{ErrorBody, ErrorCode};

/// Everything that can stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] loupe_store::Error),
}

/// An error answer: a status and an [`ErrorBody`] with a stable code. The status is the code's
/// ([`ErrorCode::http_status`]) unless a route sets another with [`ApiError::with_status`].
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            message: message.into(),
        }
    }

    /// The same error with another status than its code's.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code.as_str(), "{}", self.message);
        }
        let body = ErrorBody {
            code: self.code,
            message: self.message,
        };
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<loupe_store::Error> for ApiError {
    fn from(e: loupe_store::Error) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl From<loupe_query::Error> for ApiError {
    fn from(e: loupe_query::Error) -> Self {
        use loupe_query::Error as Q;
        let code = e.code();
        let message = match e {
            Q::Store(s) => return s.into(),
            Q::BadRequest(m) | Q::BadImage(m) | Q::NotFound(m) | Q::Internal(m) => m,
            Q::Model(m) => m.to_string(),
        };
        Self::new(code, message)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(e: ApiError) -> (u16, ErrorBody) {
        let resp = e.into_response();
        let status = resp.status().as_u16();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let bytes = rt
            .block_on(axum::body::to_bytes(resp.into_body(), 1 << 16))
            .expect("body");
        (status, serde_json::from_slice(&bytes).expect("an ErrorBody"))
    }

    #[test]
    fn every_code_answers_with_its_status_and_itself() {
        for &code in ErrorCode::ALL {
            let (status, body) = answer(ApiError::new(code, "why"));
            assert_eq!(status, code.http_status(), "{code}");
            assert_eq!((body.code, body.message.as_str()), (code, "why"));
        }
        let (status, body) =
            answer(ApiError::new(ErrorCode::BadImage, "x").with_status(StatusCode::UNPROCESSABLE_ENTITY));
        assert_eq!((status, body.code), (422, ErrorCode::BadImage));
    }

    #[test]
    fn crate_errors_keep_their_statuses() {
        use loupe_store::Error as S;
        let cases = [
            (
                ApiError::from(S::Busy("writer".into())),
                409,
                ErrorCode::IndexBusy,
            ),
            (ApiError::from(S::NoIndex("/x".into())), 503, ErrorCode::NoIndex),
            (
                ApiError::from(S::Catalog("broken".into())),
                500,
                ErrorCode::StoreError,
            ),
            (
                ApiError::from(loupe_query::Error::BadImage("not a picture".into())),
                400,
                ErrorCode::BadImage,
            ),
            (
                ApiError::from(loupe_query::Error::Store(S::Busy("writer".into()))),
                409,
                ErrorCode::IndexBusy,
            ),
            (
                ApiError::from(Error::Config("no roots".into())),
                500,
                ErrorCode::Internal,
            ),
            (
                ApiError::from(loupe_answer::Error::Store(S::Busy("writer".into()))),
                409,
                ErrorCode::IndexBusy,
            ),
            (
                ApiError::from(loupe_answer::Error::NoAnswerer {
                    name: "x".into(),
                    available: "extractive".into(),
                }),
                400,
                ErrorCode::BadRequest,
            ),
            (
                ApiError::from(loupe_answer::Error::Local("worker gone".into())),
                502,
                ErrorCode::AnswererFailed,
            ),
            (
                ApiError::from(loupe_answer::Error::Config("no url".into())),
                500,
                ErrorCode::Config,
            ),
        ];
        for (e, status, code) in cases {
            assert_eq!((e.status.as_u16(), e.code), (status, code), "{}", e.message);
        }
    }
}
