//! Our `Json` extractor: malformed, oversized or invalid bodies get the API's
//! error shape with a message naming the field, instead of axum's plain text.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorCode};

/// A JSON request body of type `T`. An empty body reads as `{}`, so
/// endpoints whose fields are all optional accept no body at all (their
/// `OpenAPI` request body is marked not required). A body that is not empty
/// must come with `Content-Type: application/json` (parameters such as
/// `charset` allowed), or the request is refused with 415.
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type =
            request.headers().get(header::CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
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
        if !bytes.is_empty() {
            check_content_type(content_type.as_deref())?;
        }
        let Some(&first) = bytes.iter().find(|b| !b.is_ascii_whitespace()) else {
            return parse(b"{}").map(Json);
        };
        // Every body is an object; serde would also read a struct from an
        // array of its fields in order (`[null, null]`), which no client means.
        if first != b'{' {
            parse::<serde::de::IgnoredAny>(&bytes)?;
            return Err(ApiError::new(ErrorCode::InvalidField, "the body must be a JSON object"));
        }
        parse(&bytes).map(Json)
    }
}

/// Refuses a body that is not declared as JSON: no `Content-Type`, or a
/// media type other than `application/json` (`application/jsonp`, `text/plain`…).
fn check_content_type(content_type: Option<&str>) -> Result<(), ApiError> {
    match content_type {
        Some(value) if is_json(value) => Ok(()),
        Some(value) => Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("expected `Content-Type: application/json`, got `{}`", value.trim()),
        )),
        None => Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "the request has a body but no `Content-Type`; send `Content-Type: application/json`",
        )),
    }
}

/// True for the media type `application/json` (any case), with or without
/// parameters such as `; charset=utf-8` (RFC 9110 §8.3.1).
fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_json_media_type_is_json() {
        for json in
            ["application/json", "Application/JSON", "application/json; charset=utf-8", " application/json ;x=y"]
        {
            assert!(is_json(json), "{json}");
        }
        for other in ["application/jsonp", "application/json-seq", "text/plain", "application/x-json", "", "json"] {
            assert!(!is_json(other), "{other}");
        }
    }

    #[test]
    fn a_body_without_a_json_content_type_is_refused_with_415() {
        assert!(check_content_type(Some("application/json")).is_ok());
        for refused in [None, Some("application/jsonp"), Some("text/plain")] {
            let error = check_content_type(refused).unwrap_err();
            assert_eq!(error.code, ErrorCode::UnsupportedMediaType, "{refused:?}");
            assert!(error.message.contains("Content-Type"), "{}", error.message);
        }
    }
}
