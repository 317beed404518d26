//! The web dashboard: landing page, dashboard and settings, served from the binary.
//!
//! Pages are rendered on the server with maud, which HTML-escapes every
//! interpolated value, from the same wire types the REST API returns (the
//! page handlers call the API handlers). One small script (`ui/assets/app.js`)
//! signs in, keeps the dashboard live by polling `/dashboard/panels` with an
//! `ETag`, and sends the settings forms to the REST API. The Tailwind CSS is
//! built ahead of time and embedded; nothing is loaded from elsewhere, and a
//! strict Content-Security-Policy allows only this origin's script and style.

mod assets;
mod chart;
mod dashboard;
mod format;
mod landing;
mod layout;
mod settings;
#[cfg(test)]
mod tests;

use axum::Router;
use axum::extract::{Form, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use tower_http::compression::CompressionLayer;

use crate::auth::{Caller, authenticate};
use crate::error::{ApiError, ErrorCode};
use crate::session;
use crate::state::AppState;
use layout::Nav;

/// Scripts and styles from this origin only: no inline script, no inline
/// style, no framing, no plugins, forms and fetches to this origin only.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
                   form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The page routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(landing::page))
        .route("/dashboard", get(dashboard::page))
        .route("/dashboard/panels", get(dashboard::fragment))
        .route("/settings", get(settings::page))
        .route("/settings/sections", get(settings::fragment))
        .route("/session", post(sign_in_form))
        .merge(assets::router())
        .layer(axum::middleware::map_response(security_headers))
        .layer(CompressionLayer::new())
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = |headers: &mut HeaderMap, name: &'static str, value: &'static str| {
        headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    };
    set(headers, "content-security-policy", CSP);
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "x-frame-options", "DENY");
    set(headers, "referrer-policy", "no-referrer");
    set(headers, "cross-origin-opener-policy", "same-origin");
    set(headers, "cross-origin-resource-policy", "same-origin");
    set(headers, "permissions-policy", "camera=(), microphone=(), geolocation=(), payment=()");
    response
}

/// Who is looking at a page.
enum Visitor {
    /// Signed in with a valid key.
    SignedIn(Caller),
    /// No session cookie.
    Anonymous,
    /// A session cookie whose key is no longer valid (revoked, or unknown).
    Expired,
}

impl Visitor {
    async fn of(state: &AppState, headers: &HeaderMap) -> Result<Visitor, ApiError> {
        let Some(key) = session::key_from_cookie(headers).filter(|k| !k.is_empty()) else {
            return Ok(Visitor::Anonymous);
        };
        match authenticate(state, &key).await {
            Ok(caller) => Ok(Visitor::SignedIn(caller)),
            Err(error)
                if matches!(
                    error.code,
                    ErrorCode::InvalidApiKey | ErrorCode::RevokedApiKey | ErrorCode::MissingApiKey
                ) =>
            {
                Ok(Visitor::Expired)
            }
            Err(error) => Err(error),
        }
    }
}

/// An HTML response that is never cached (it may hold account data).
fn html_response(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [
            (CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        markup.into_string(),
    )
        .into_response()
}

/// The sign-in page, shown at `/dashboard` and `/settings` to a visitor
/// without a valid session; it clears a stale cookie.
fn sign_in_page(visitor: &Visitor, nav: Nav) -> Response {
    sign_in_page_with(visitor, nav, None)
}

fn sign_in_page_with(visitor: &Visitor, nav: Nav, error: Option<&str>) -> Response {
    let expired = matches!(visitor, Visitor::Expired);
    let next = if nav == Nav::Settings { "/settings" } else { "/dashboard" };
    let body = html! {
        div class="mx-auto max-w-md" {
            h1 class="text-2xl font-bold tracking-tight" { "Sign in to your dashboard" }
            @if expired {
                p class="mt-4 rounded-md bg-amber-50 p-3 text-sm text-amber-900 ring-1 ring-amber-200" role="status" id="session-ended" {
                    "You were signed out: the API key of this session was revoked or is no longer valid."
                }
            }
            noscript {
                p class="mt-4 rounded-md bg-amber-50 p-3 text-sm text-amber-900 ring-1 ring-amber-200" {
                    "Signing in works without JavaScript; live updates, sign-up and the settings forms need it."
                }
            }
            // Without the script the form posts to `/session` (never a GET: the key must not end up in a URL).
            form id="signin-form" method="post" action="/session" class="mt-6 space-y-3 rounded-lg bg-white p-5 shadow-sm ring-1 ring-slate-200" novalidate {
                input type="hidden" name="next" value=(next);
                label for="api-key" class=(layout::LABEL) { "API key" }
                input id="api-key" name="api_key" type="password" required autocomplete="off" spellcheck="false"
                    autocapitalize="off" placeholder="llm_…" aria-describedby="api-key-help signin-error" class=(layout::INPUT);
                p id="api-key-help" class="text-xs text-slate-600" {
                    "Your key starts with " (layout::kbd("llm_")) ". " (layout::kbd("llmlab init")) " saved it in "
                    (layout::kbd("~/.config/llmlab/config.toml")) ". It is kept in an HttpOnly cookie, never in the page."
                }
                p id="signin-error" data-error class="text-sm font-medium text-red-700" role="alert" hidden[error.is_none()] { (error.unwrap_or_default()) }
                button type="submit" class={ (layout::BUTTON) " w-full" } { "Sign in" }
            }
            div class="mt-6 rounded-lg bg-white p-5 shadow-sm ring-1 ring-slate-200" {
                h2 class="text-base font-semibold" id="signup" { "New to LLMLab?" }
                p class="mt-1 text-sm text-slate-600" { "Create an account on this server. You get an API key for the SDK, the CLI and this dashboard." }
                button type="button" id="signup-button" class={ (layout::BUTTON_SECONDARY) " mt-3 w-full" } { "Create an account" }
                p id="signup-error" class="mt-2 text-sm font-medium text-red-700" role="alert" hidden {}
                div id="signup-result" class="mt-4 space-y-3" hidden {
                    p class="text-sm font-medium text-slate-900" {
                        "Your API key, shown only this once. Copy it now: the SDK and the CLI need it."
                    }
                    div { (layout::new_key("new-account-key", "your new API key")) }
                    button type="button" id="signup-continue" class={ (layout::BUTTON) " w-full" } { "I saved it: open the dashboard" }
                }
            }
        }
    };
    let mut response = html_response(StatusCode::OK, layout::page("Sign in", nav, false, &body));
    if expired && let Ok(value) = HeaderValue::from_str(&session::sign_out_cookie()) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    response
}

/// The sign-in form's body when it is posted without the script.
#[derive(Deserialize)]
struct SignInForm {
    api_key: String,
    next: Option<String>,
}

/// `POST /session`: signs in from the plain HTML form (the script uses
/// `POST /api/auth/session` instead), then redirects to the page it came from.
async fn sign_in_form(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<SignInForm>) -> Response {
    // Only this site's own form: no signing a visitor into another account from elsewhere.
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if site.is_some_and(|s| s != "same-origin" && s != "none") {
        return StatusCode::FORBIDDEN.into_response();
    }
    let nav = if form.next.as_deref() == Some("/settings") { Nav::Settings } else { Nav::Dashboard };
    let next = if nav == Nav::Settings { "/settings" } else { "/dashboard" };
    let key = form.api_key.trim();
    match authenticate(&state, key).await {
        Ok(_) => {
            let cookie = session::sign_in_cookie(key, state.settings.secure_cookies);
            let mut response = StatusCode::SEE_OTHER.into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(SET_COOKIE, value);
            }
            response.headers_mut().insert(LOCATION, HeaderValue::from_static(next));
            response
        }
        Err(error) if error.code.status() == StatusCode::UNAUTHORIZED => {
            let mut response =
                sign_in_page_with(&Visitor::Anonymous, nav, Some("This API key is not valid, or it was revoked."));
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response
        }
        Err(error) => error_page(&error, nav),
    }
}

/// A page for an unexpected failure: a generic message (the cause is logged).
fn error_page(error: &ApiError, nav: Nav) -> Response {
    let status = error.code.status();
    if let Some(cause) = &error.cause {
        tracing::error!(code = error.code.as_str(), error = %cause, "page failed");
    }
    let body = html! {
        div class="mx-auto max-w-md" role="alert" {
            h1 class="text-2xl font-bold" { "Something went wrong" }
            p class="mt-2 text-slate-700" { (error.message) }
            p class="mt-4" { a href="" class=(layout::LINK) { "Try again" } }
        }
    };
    html_response(status, layout::page("Error", nav, false, &body))
}
