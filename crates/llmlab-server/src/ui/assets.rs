//! The stylesheet, script and icon, embedded in the binary. URLs carry a hash
//! of the content (`/ui/app.css?v=…`), so browsers may cache them for a year
//! and still get a new build at once.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::state::AppState;

/// Built from `ui/src/app.css` by Tailwind (`ui/build-css`); committed.
const CSS: &str = include_str!("../../ui/assets/app.css");
const JS: &str = include_str!("../../ui/assets/app.js");
const FAVICON: &str = include_str!("../../ui/assets/favicon.svg");

const FILES: [(&str, &str, &str); 3] = [
    ("app.css", "text/css; charset=utf-8", CSS),
    ("app.js", "text/javascript; charset=utf-8", JS),
    ("favicon.svg", "image/svg+xml", FAVICON),
];

/// A short hash of every asset: changes whenever one of them does.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut hash = Sha256::new();
    for (_, _, body) in FILES {
        hash.update(body.as_bytes());
    }
    hex::encode(&hash.finalize()[..6])
});

/// The URL of an embedded asset, with its version.
#[must_use]
pub(super) fn url(name: &str) -> String {
    format!("/ui/{name}?v={}", *VERSION)
}

/// The version of the assets (part of the dashboard's `ETag`).
#[must_use]
pub(super) fn version() -> &'static str {
    &VERSION
}

#[derive(Deserialize)]
struct Versioned {
    v: Option<String>,
}

/// `GET /ui/{file}`.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/ui/{file}", get(serve))
        .route("/favicon.ico", get(|| async { serve_named("favicon.svg", None, &HeaderMap::new()) }))
}

async fn serve(Path(file): Path<String>, Query(query): Query<Versioned>, headers: HeaderMap) -> Response {
    serve_named(&file, query.v.as_deref(), &headers)
}

fn serve_named(file: &str, v: Option<&str>, headers: &HeaderMap) -> Response {
    let Some((_, content_type, body)) = FILES.iter().find(|(name, _, _)| *name == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}\"", *VERSION);
    let cache = if v == Some(VERSION.as_str()) { "public, max-age=31536000, immutable" } else { "no-cache" };
    let mut response = if headers.get(IF_NONE_MATCH).is_some_and(|tag| tag.as_bytes() == etag.as_bytes()) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(CONTENT_TYPE, *content_type)], *body).into_response()
    };
    let response_headers = response.headers_mut();
    response_headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response_headers.insert(ETAG, value);
    }
    response
}
