//! Our `Json` extractor: malformed, oversized or invalid bodies get the API's
//! error shape with a message naming the field, instead of axum's plain text.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorCode};

/// A JSON request body of type `T`. An empty body reads as `{}`, so
/// endpoints whose fields are all optional accept no body at all.
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    format!("the request body is larger than the {} limit", crate::BODY_LIMIT_TEXT),
                )
            } else {
                ApiError::new(ErrorCode::MalformedJson, format!("the request body could not be read: {rejection}"))
            }
        })?;
        if let Some(kind) = content_type.filter(|c| !c.starts_with("application/json") && !bytes.is_empty()) {
            return Err(ApiError::new(
                ErrorCode::MalformedJson,
                format!("expected `Content-Type: application/json`, got `{kind}`"),
            ));
        }
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &bytes };
        parse(bytes).map(Json)
    }
}

/// Parses JSON, naming the failing field: `events[3].model: missing field`.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = strip_position(&inner.to_string());
        if inner.is_syntax() || inner.is_eof() {
            ApiError::new(ErrorCode::MalformedJson, format!("the body is not valid JSON: {message}"))
        } else if path == "." {
            ApiError::new(ErrorCode::InvalidField, format!("the body: {message}"))
        } else {
            ApiError::invalid(&path, message)
        }
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::new(ErrorCode::MalformedJson, format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}

/// `serde_json` appends ` at line 1 column 40`; the path already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}
