//! Errors LLMLab itself answers on a proxy route, in the provider's own
//! format, so the official clients raise their usual exception with our
//! message (an `openai.RateLimitError`, an `anthropic.RateLimitError`, a
//! `google.genai.errors.ClientError`…).
//!
//! Every such response carries `x-llmlab-error: <code>` so a person (or a
//! test) can tell LLMLab's answers from the provider's. Budget refusals also
//! say `x-should-retry: false`, which the OpenAI and Anthropic SDKs honour:
//! retrying cannot help until the budget changes.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use super::Upstream;
use crate::error::{ApiError, ErrorCode};

/// LLMLab's own error codes on proxy routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProxyError {
    MissingKey,
    InvalidKey,
    BadHeader,
    BudgetExceeded,
    /// A hard budget covers the call, and its cost has no bound to hold.
    BudgetUnbounded,
    UpstreamUnavailable,
    UpstreamTimeout,
    Internal,
}

impl ProxyError {
    fn status(self) -> StatusCode {
        match self {
            ProxyError::MissingKey | ProxyError::InvalidKey => StatusCode::UNAUTHORIZED,
            ProxyError::BadHeader | ProxyError::BudgetUnbounded => StatusCode::BAD_REQUEST,
            ProxyError::BudgetExceeded => StatusCode::TOO_MANY_REQUESTS,
            ProxyError::UpstreamUnavailable => StatusCode::BAD_GATEWAY,
            ProxyError::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code in `x-llmlab-error` (and in the body where the format has a code field).
    pub(crate) fn code(self) -> &'static str {
        match self {
            ProxyError::MissingKey => "llmlab_missing_api_key",
            ProxyError::InvalidKey => "llmlab_invalid_api_key",
            ProxyError::BadHeader => "llmlab_invalid_header",
            ProxyError::BudgetExceeded => "llmlab_budget_exceeded",
            ProxyError::BudgetUnbounded => "llmlab_budget_unbounded",
            ProxyError::UpstreamUnavailable => "llmlab_upstream_unavailable",
            ProxyError::UpstreamTimeout => "llmlab_upstream_timeout",
            ProxyError::Internal => "llmlab_internal_error",
        }
    }

    /// OpenAI's `error.type` for this status.
    fn openai_type(self) -> &'static str {
        match self {
            ProxyError::MissingKey | ProxyError::InvalidKey | ProxyError::BadHeader | ProxyError::BudgetUnbounded => {
                "invalid_request_error"
            }
            ProxyError::BudgetExceeded => "insufficient_quota",
            ProxyError::UpstreamUnavailable | ProxyError::UpstreamTimeout | ProxyError::Internal => "server_error",
        }
    }

    /// Anthropic's `error.type` for this status.
    fn anthropic_type(self) -> &'static str {
        match self {
            ProxyError::MissingKey | ProxyError::InvalidKey => "authentication_error",
            ProxyError::BadHeader | ProxyError::BudgetUnbounded => "invalid_request_error",
            ProxyError::BudgetExceeded => "rate_limit_error",
            ProxyError::UpstreamUnavailable | ProxyError::UpstreamTimeout | ProxyError::Internal => "api_error",
        }
    }

    /// Google's canonical status name (`google.rpc.Code`) for this status.
    fn gemini_status(self) -> &'static str {
        match self {
            ProxyError::MissingKey | ProxyError::InvalidKey => "UNAUTHENTICATED",
            ProxyError::BadHeader | ProxyError::BudgetUnbounded => "INVALID_ARGUMENT",
            ProxyError::BudgetExceeded => "RESOURCE_EXHAUSTED",
            ProxyError::UpstreamUnavailable => "UNAVAILABLE",
            ProxyError::UpstreamTimeout => "DEADLINE_EXCEEDED",
            ProxyError::Internal => "INTERNAL",
        }
    }

    /// The proxy error for a failed key check.
    pub(crate) fn from_auth(error: &ApiError) -> ProxyError {
        match error.code {
            ErrorCode::MissingApiKey => ProxyError::MissingKey,
            ErrorCode::InvalidApiKey | ErrorCode::RevokedApiKey => ProxyError::InvalidKey,
            _ => ProxyError::Internal,
        }
    }
}

/// `error` answered as `upstream`'s API would, with `message`.
pub(crate) fn respond(upstream: Upstream, error: ProxyError, message: &str) -> Response {
    let status = error.status();
    let body = match upstream {
        Upstream::OpenAi => json!({
            "error": { "message": message, "type": error.openai_type(), "param": null, "code": error.code() }
        }),
        Upstream::Anthropic => json!({
            "type": "error",
            "error": { "type": error.anthropic_type(), "message": message }
        }),
        Upstream::Gemini => json!({
            "error": { "code": status.as_u16(), "message": message, "status": error.gemini_status() }
        }),
    };
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("x-llmlab-error", HeaderValue::from_static(error.code()));
    if matches!(error, ProxyError::BudgetExceeded | ProxyError::BudgetUnbounded) {
        headers.insert("x-should-retry", HeaderValue::from_static("false"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn each_provider_gets_its_own_error_shape() {
        let openai = respond(Upstream::OpenAi, ProxyError::BudgetExceeded, "over budget");
        assert_eq!(openai.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(openai.headers()["x-should-retry"], "false");
        let body = body_of(openai).await;
        assert_eq!(body["error"]["message"], "over budget");
        assert_eq!(body["error"]["type"], "insufficient_quota");
        assert_eq!(body["error"]["code"], "llmlab_budget_exceeded");

        let body = body_of(respond(Upstream::Anthropic, ProxyError::UpstreamTimeout, "slow")).await;
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], "api_error");

        let gemini = respond(Upstream::Gemini, ProxyError::UpstreamUnavailable, "down");
        assert_eq!(gemini.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(gemini.headers()["x-llmlab-error"], "llmlab_upstream_unavailable");
        let body = body_of(gemini).await;
        assert_eq!(body["error"]["code"], 502);
        assert_eq!(body["error"]["status"], "UNAVAILABLE");
    }
}
