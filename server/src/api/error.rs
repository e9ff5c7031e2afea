//! The HTTP API's one error type: a status and a JSON body with a stable
//! `code` for scripts and a `message` for people (the words are the same as
//! the pages'; a refusal of the chat itself carries the `ChatError`'s code).

use app::protocol::ChatError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// What every refused API request answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, for scripts: `invalid_token`, `insufficient_scope`, `rate_limited`, ….
    pub code: String,
    /// For people.
    pub message: String,
    /// With `rate_limited` and `slow_mode`: how long to wait before trying again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// No token, or not a live one (revoked, its account deactivated).
    #[error("Send a valid API token: Authorization: Bearer chat_pat_….")]
    Unauthorized,
    /// The token's scopes do not include what the request needs.
    #[error("This token may not {0}.")]
    Forbidden(&'static str),
    /// Too many requests with bad tokens from this address.
    #[error("Too many requests with bad tokens; wait a little.")]
    TooManyAttempts { retry_after_ms: u64 },
    #[error("There is nobody with that username.")]
    NoSuchPerson,
    #[error("There is no such webhook (it may have been deleted).")]
    NoSuchWebhook,
    /// The request itself is malformed: a bad room name, a bad parameter, bad JSON.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// Refused by the chat's own rules (as a member's post would be).
    #[error("{0}")]
    Refused(ChatError),
    #[error("Send JSON, with Content-Type: application/json.")]
    NotJson,
    #[error("The request body is too large.")]
    TooLarge,
    #[error("The server cannot do that right now; try again shortly.")]
    Unavailable,
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest { code, message: message.into() }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NoSuchPerson | ApiError::NoSuchWebhook => StatusCode::NOT_FOUND,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Refused(error) => match error {
                ChatError::RateLimited { .. } | ChatError::SlowMode { .. } => StatusCode::TOO_MANY_REQUESTS,
                ChatError::Removed => StatusCode::FORBIDDEN,
                ChatError::SignInRequired => StatusCode::UNAUTHORIZED,
                ChatError::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            },
        }
    }

    pub fn body(&self) -> ErrorBody {
        let (code, retry_after_ms) = match self {
            ApiError::Unauthorized => ("invalid_token", None),
            ApiError::Forbidden(_) => ("insufficient_scope", None),
            ApiError::TooManyAttempts { retry_after_ms } => ("too_many_attempts", Some(*retry_after_ms)),
            ApiError::NoSuchPerson => ("no_such_person", None),
            ApiError::NoSuchWebhook => ("no_such_webhook", None),
            ApiError::BadRequest { code, .. } => (*code, None),
            ApiError::NotJson => ("not_json", None),
            ApiError::TooLarge => ("too_large", None),
            ApiError::Unavailable => ("unavailable", None),
            ApiError::Refused(error) => match error {
                ChatError::RateLimited { retry_after_ms } | ChatError::SlowMode { retry_after_ms, .. } => {
                    (error.code(), Some(*retry_after_ms))
                }
                _ => (error.code(), None),
            },
        };
        ErrorBody { code: code.to_owned(), message: self.to_string(), retry_after_ms }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.body();
        let mut response = (self.status(), Json(&body)).into_response();
        let headers = response.headers_mut();
        if let Some(ms) = body.retry_after_ms {
            if let Ok(value) = HeaderValue::from_str(&ms.div_ceil(1000).max(1).to_string()) {
                headers.insert(header::RETRY_AFTER, value);
            }
        }
        if self == ApiError::Unauthorized {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"chat\""));
        }
        response
    }
}

impl From<crate::hub::SubmitError> for ApiError {
    fn from(error: crate::hub::SubmitError) -> Self {
        match error {
            crate::hub::SubmitError::Refused(error) => ApiError::Refused(error),
            crate::hub::SubmitError::Unavailable(_) => ApiError::Unavailable,
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        tracing::warn!(%error, "an API request's store access failed");
        ApiError::Unavailable
    }
}
