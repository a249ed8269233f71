//! [`ApiError`]: every failure a handler can return, rendered in Alpaca's error shape
//! `{"code": <int>, "message": "..."}`. Internal error text is logged, never sent.

use crate::ports::PortError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// A failed request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed request (unparseable body).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 401: missing or wrong credentials.
    #[error("unauthorized")]
    Unauthorized,
    /// 403: authenticated but not allowed.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 404: no such resource (or not visible to this key).
    #[error("not found: {0}")]
    NotFound(String),
    /// 405: the path exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 413: body over axum's default limit (2 MB; a configured limit layer comes later).
    #[error("payload too large")]
    PayloadTooLarge,
    /// 422: well-formed but invalid request.
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    /// 503: a backend is unavailable; retry later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// 500: a bug or an unexpected backend failure. The text is only logged.
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Alpaca's 8-digit code: HTTP status followed by `10000`.
    pub fn code(&self) -> u32 {
        u32::from(self.status().as_u16()) * 100_000 + 10_000
    }

    /// The message clients see.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::BadRequest(m) | ApiError::Forbidden(m) | ApiError::NotFound(m) | ApiError::Unprocessable(m) => m.clone(),
            ApiError::Unauthorized => "request is not authorized".into(),
            ApiError::MethodNotAllowed => "method not allowed".into(),
            ApiError::PayloadTooLarge => "request body too large".into(),
            ApiError::Unavailable(_) => "service unavailable, retry later".into(),
            ApiError::Internal(_) => "internal server error".into(),
        }
    }
}

impl From<PortError> for ApiError {
    fn from(e: PortError) -> Self {
        match e {
            PortError::Unavailable(m) => ApiError::Unavailable(m),
            PortError::Internal(m) => ApiError::Internal(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(detail) => tracing::error!(%detail, "internal error"),
            ApiError::Unavailable(detail) => tracing::warn!(%detail, "backend unavailable"),
            _ => {}
        }
        let body = serde_json::json!({ "code": self.code(), "message": self.public_message() });
        (self.status(), Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(e: ApiError) -> (u16, serde_json::Value) {
        let resp = e.into_response();
        let status = resp.status().as_u16();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn alpaca_shape_and_codes() {
        let (s, b) = body(ApiError::Unprocessable("qty must be positive".into())).await;
        assert_eq!((s, b), (422, serde_json::json!({"code": 42210000, "message": "qty must be positive"})));
        let (s, b) = body(ApiError::Unauthorized).await;
        assert_eq!((s, b), (401, serde_json::json!({"code": 40110000, "message": "request is not authorized"})));
        let (s, b) = body(ApiError::NotFound("order not found".into())).await;
        assert_eq!((s, b["code"].clone()), (404, serde_json::json!(40410000)));
    }

    #[tokio::test]
    async fn internal_text_never_reaches_clients() {
        let (s, b) = body(ApiError::Internal("broker kafka-3:9092 password=hunter2".into())).await;
        assert_eq!((s, b), (500, serde_json::json!({"code": 50010000, "message": "internal server error"})));
        let (s, b) = body(PortError::Unavailable("consumer lag on accounts.snapshots".into()).into()).await;
        assert_eq!((s, b), (503, serde_json::json!({"code": 50310000, "message": "service unavailable, retry later"})));
    }
}
