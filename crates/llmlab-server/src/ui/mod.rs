//! The web dashboard: landing page, dashboard and settings, served from the binary.
//!
//! Pages are rendered on the server with maud, which HTML-escapes every
//! interpolated value, from the same wire types the REST API returns (the
//! page handlers call the API handlers). One small script (`ui/assets/app.js`)
//! signs in, keeps the dashboard live by polling `/dashboard/panels` with an
//! `ETag`, and sends the settings forms to the REST API. The Tailwind CSS is
//! built ahead of time and embedded; nothing is loaded from elsewhere, and a
//! strict Content-Security-Policy allows only this origin's script and style.

mod alerts;
mod assets;
mod budgets;
mod chart;
mod dashboard;
mod format;
mod landing;
mod layout;
mod reports;
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

use crate::auth::{Caller, SignInFromThisSite, authenticate, authenticate_session};
use crate::error::{ApiError, ErrorCode};
use crate::session;
use crate::signup::SignupPolicy;
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
        .route("/signup", get(signup_page))
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
    /// A session cookie whose session ended (signed out elsewhere, expired, its key revoked).
    Expired,
}

impl Visitor {
    async fn of(state: &AppState, headers: &HeaderMap) -> Result<Visitor, ApiError> {
        let Some(token) = session::token_from_cookie(headers) else {
            return Ok(Visitor::Anonymous);
        };
        match authenticate_session(state, &token).await {
            Ok(caller) => Ok(Visitor::SignedIn(caller)),
            Err(error) if error.code == ErrorCode::SessionEnded => Ok(Visitor::Expired),
            Err(error) => Err(error),
        }
    }
}

/// The name to greet a signed-in account with: its name, or a short form
/// of its id (`usr_…` and the last 8 characters, which are random) when it has none.
#[must_use]
pub(crate) fn display_name(user: &llmlab_store::User) -> String {
    if let Some(name) = user.name.as_deref().filter(|n| !n.trim().is_empty()) {
        return name.to_owned();
    }
    let id = &user.public_id;
    let tail = id.char_indices().rev().nth(7).map_or(id.as_str(), |(at, _)| &id[at..]);
    if tail.len() + 4 >= id.len() { id.clone() } else { format!("usr_…{tail}") }
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
fn sign_in_page(state: &AppState, visitor: &Visitor, nav: Nav) -> Response {
    sign_in_page_with(state, visitor, nav, &SignInPage::default())
}

/// What the sign-in page shows besides the forms.
#[derive(Default)]
struct SignInPage<'a> {
    /// The sign-in form's error.
    error: Option<&'a str>,
    /// The invite from the link the visitor opened (`/signup?invite=…`).
    invite: Option<&'a str>,
}

/// `GET /signup[?invite=…]`: the sign-up form, with the invite of the link filled in.
async fn signup_page(
    State(state): State<AppState>,
    axum::extract::Query(query): axum::extract::Query<SignupQuery>,
) -> Response {
    let invite = query.invite.as_deref().map(str::trim).filter(|i| !i.is_empty());
    sign_in_page_with(&state, &Visitor::Anonymous, Nav::Dashboard, &SignInPage { error: None, invite })
}

#[derive(Deserialize)]
struct SignupQuery {
    invite: Option<String>,
}

/// The sign-up part of the sign-in page, as the server's policy allows.
fn signup_section(policy: SignupPolicy, invite: Option<&str>) -> Markup {
    html! {
        div class="mt-6 rounded-lg bg-white p-5 shadow-sm ring-1 ring-slate-200" {
            h2 class="text-base font-semibold" id="signup" { "New to LLMLab?" }
            @if policy == SignupPolicy::Closed {
                p id="signup-closed" class="mt-1 text-sm text-slate-700" {
                    "This server does not accept sign-ups. Ask its operator for an account, then sign in with your API key."
                }
            } @else {
                p class="mt-1 text-sm text-slate-600" {
                    @if policy == SignupPolicy::Invite {
                        "This server creates accounts by invitation. Paste the invite link you were given."
                    } @else {
                        "Create an account on this server. You get an API key for the SDK, the CLI and this dashboard."
                    }
                }
                div class="mt-3 space-y-3" {
                    @if policy == SignupPolicy::Invite {
                        div {
                            label for="signup-invite" class=(layout::LABEL) { "Invite link" }
                            input id="signup-invite" name="invite" type="text" required autocomplete="off" spellcheck="false"
                                autocapitalize="off" placeholder="https://…/signup?invite=inv_…" value=[invite] class={ (layout::INPUT) " mt-1" };
                        }
                    }
                    div {
                        label for="signup-name" class=(layout::LABEL) { "Your name " span class="font-normal text-slate-600" { "(optional)" } }
                        input id="signup-name" name="name" type="text" maxlength="100" autocomplete="name" placeholder="e.g. Ada"
                            class={ (layout::INPUT) " mt-1" };
                    }
                }
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
    }
}

fn sign_in_page_with(state: &AppState, visitor: &Visitor, nav: Nav, shown: &SignInPage<'_>) -> Response {
    let error = shown.error;
    let expired = matches!(visitor, Visitor::Expired);
    let next = if nav == Nav::Settings { "/settings" } else { "/dashboard" };
    let body = html! {
        div class="mx-auto max-w-md" {
            h1 class="text-2xl font-bold tracking-tight" { "Sign in to your dashboard" }
            @if expired {
                p class="mt-4 rounded-md bg-amber-50 p-3 text-sm text-amber-900 ring-1 ring-amber-200" role="status" id="session-ended" {
                    "You were signed out: this session ended (signed out from settings, expired after 30 days, or its API key was revoked)."
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
            (signup_section(state.settings.signup, shown.invite))
        }
    };
    let mut response = html_response(StatusCode::OK, layout::page("Sign in", nav, false, &body));
    if expired && let Ok(value) = HeaderValue::from_str(&session::sign_out_cookie(state.settings.secure_cookies)) {
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
async fn sign_in_form(
    State(state): State<AppState>,
    // Only this site's own form: no signing a visitor into another account from elsewhere.
    _: SignInFromThisSite,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let nav = if form.next.as_deref() == Some("/settings") { Nav::Settings } else { Nav::Dashboard };
    let next = if nav == Nav::Settings { "/settings" } else { "/dashboard" };
    let signed_in = match authenticate(&state, form.api_key.trim()).await {
        Ok(caller) => crate::routes::auth::open_session(&state, &caller, &headers).await,
        Err(error) => Err(error),
    };
    match signed_in {
        Ok(cookie) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(SET_COOKIE, value);
            }
            response.headers_mut().insert(LOCATION, HeaderValue::from_static(next));
            response
        }
        Err(error) if error.code.status() == StatusCode::UNAUTHORIZED => {
            let shown = SignInPage { error: Some("This API key is not valid, or it was revoked."), invite: None };
            let mut response = sign_in_page_with(&state, &Visitor::Anonymous, nav, &shown);
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
