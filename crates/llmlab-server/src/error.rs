//! The API's one error type: a status, a stable code and a message that
//! names the problem. 5xx responses carry a generic message; the cause is
//! logged once, never sent.

use std::sync::Arc;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use llmlab_api::{ErrorBody, ErrorDetail};
use llmlab_store::StoreError;

/// Every error code the API returns, with its status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    MissingApiKey,
    InvalidApiKey,
    RevokedApiKey,
    /// The dashboard session cookie names a session that ended (or never existed).
    SessionEnded,
    /// The `Authorization` header holds a token that is not the server's admin token.
    InvalidAdminToken,
    MalformedJson,
    InvalidField,
    PayloadTooLarge,
    NotFound,
    /// `?project=` names a project the account does not have.
    ProjectNotFound,
    Conflict,
    BudgetExceeded,
    UpstreamUnavailable,
    UpstreamTimeout,
    Internal,
    TotalOutOfRange,
    DatabaseUnavailable,
    /// A state-changing request authenticated by the session cookie that
    /// does not come from this server's own pages (CSRF).
    CrossSiteRequest,
    /// A request body that is not declared as `application/json`.
    UnsupportedMediaType,
    /// Sign-up refused: the server runs with `--signup closed`.
    SignupClosed,
    /// Sign-up refused: the server runs with `--signup invite` and the request has no invite.
    InviteRequired,
    /// Sign-up refused: the invite is unknown, used or expired.
    InviteInvalid,
    /// Too many sign-up or sign-in attempts from one address.
    RateLimited,
    /// An alert channel's target the server does not send to (link-local,
    /// cloud metadata; private and loopback unless allowed).
    TargetRefused,
    /// A provider refused the admin key given for its reports (401/403).
    AdminKeyRefused,
    /// A provider's report API failed (not the key): unreachable, an error status, an unreadable page.
    ReportFailed,
}

/// What a 503 tells clients to wait before retrying, in seconds.
pub const RETRY_AFTER_SECS: u32 = 5;

impl ErrorCode {
    #[must_use]
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::MissingApiKey
            | ErrorCode::InvalidApiKey
            | ErrorCode::RevokedApiKey
            | ErrorCode::SessionEnded
            | ErrorCode::InvalidAdminToken => StatusCode::UNAUTHORIZED,
            ErrorCode::MalformedJson => StatusCode::BAD_REQUEST,
            ErrorCode::InvalidField
            | ErrorCode::TotalOutOfRange
            | ErrorCode::TargetRefused
            | ErrorCode::AdminKeyRefused => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::NotFound | ErrorCode::ProjectNotFound => StatusCode::NOT_FOUND,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::BudgetExceeded | ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::UpstreamUnavailable | ErrorCode::ReportFailed => StatusCode::BAD_GATEWAY,
            ErrorCode::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::DatabaseUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::CrossSiteRequest
            | ErrorCode::SignupClosed
            | ErrorCode::InviteRequired
            | ErrorCode::InviteInvalid => StatusCode::FORBIDDEN,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MissingApiKey => "missing_api_key",
            ErrorCode::InvalidApiKey => "invalid_api_key",
            ErrorCode::RevokedApiKey => "revoked_api_key",
            ErrorCode::SessionEnded => "session_ended",
            ErrorCode::InvalidAdminToken => "invalid_admin_token",
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::NotFound => "not_found",
            ErrorCode::ProjectNotFound => "project_not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::BudgetExceeded => "budget_exceeded",
            ErrorCode::UpstreamUnavailable => "upstream_unavailable",
            ErrorCode::UpstreamTimeout => "upstream_timeout",
            ErrorCode::Internal => "internal_error",
            ErrorCode::TotalOutOfRange => "total_out_of_range",
            ErrorCode::DatabaseUnavailable => "database_unavailable",
            ErrorCode::CrossSiteRequest => "cross_site_request",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::SignupClosed => "signup_closed",
            ErrorCode::InviteRequired => "invite_required",
            ErrorCode::InviteInvalid => "invite_invalid",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::TargetRefused => "target_refused",
            ErrorCode::AdminKeyRefused => "admin_key_refused",
            ErrorCode::ReportFailed => "report_failed",
        }
    }
}

/// An error answered to the client.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// The underlying cause of a 5xx, logged but never sent.
    #[source]
    pub cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), cause: None }
    }

    /// A 422 naming the offending field.
    pub fn invalid(field: &str, problem: impl std::fmt::Display) -> Self {
        ApiError::new(ErrorCode::InvalidField, format!("`{field}`: {problem}"))
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::NotFound, what)
    }

    /// A 500 whose cause is logged and not shown.
    pub fn internal(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        ApiError {
            code: ErrorCode::Internal,
            message: "internal error; the server log has the details".to_owned(),
            cause: Some(Box::new(cause)),
        }
    }

    /// A 503 for a database that does not answer; the cause is logged.
    pub fn database_unavailable(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        ApiError {
            code: ErrorCode::DatabaseUnavailable,
            message: format!(
                "the database is not answering; nothing was changed. Retry in {RETRY_AFTER_SECS} seconds \
                 (`GET /health` says when it is back)"
            ),
            cause: Some(Box::new(cause)),
        }
    }

    /// A 422 for a write that would carry the account's totals past what can be stored.
    #[must_use]
    pub fn total_out_of_range() -> Self {
        ApiError::new(
            ErrorCode::TotalOutOfRange,
            format!(
                "nothing was stored: this would carry the account's all-time totals past the largest value LLMLab \
                 can store ({} USD, or {} tokens of one class)",
                llmlab_core::Money::MAX,
                i64::MAX
            ),
        )
    }

    /// The error for a failed storage call. Shared (`Arc`) because the
    /// group-commit writer answers every request of a failed group with the
    /// same error; the cause stays the store's own error, logged, never sent.
    #[must_use]
    pub fn from_store(error: Arc<StoreError>) -> Self {
        match &*error {
            StoreError::NotFound => ApiError::not_found("not found"),
            StoreError::Conflict(what) => ApiError::new(ErrorCode::Conflict, what.clone()),
            StoreError::OutOfRange => ApiError::total_out_of_range(),
            other if other.is_unavailable() => ApiError::database_unavailable(error),
            _ => ApiError::internal(error),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::from_store(Arc::new(error))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.cause {
            tracing::error!(code = self.code.as_str(), error = %cause, "request failed");
        }
        let body = ErrorBody { error: ErrorDetail { code: self.code.as_str().to_owned(), message: self.message } };
        let mut response = (self.code.status(), Json(body)).into_response();
        if self.code == ErrorCode::DatabaseUnavailable {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, RETRY_AFTER_SECS.into());
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
