//! HTTP tests of the pages through the whole router (no socket), on a fresh SQLite database.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, COOKIE, ETAG, IF_NONE_MATCH, LOCATION, SET_COOKIE};
use axum::http::{Request, Response, StatusCode};
use llmlab_store::{DbSettings, Store};
use llmlab_test_support::TestDb;
use tower::ServiceExt;

use crate::state::{AppState, ServerSettings};

struct App {
    router: Router,
    _db: TestDb,
}

impl App {
    async fn new() -> App {
        App::with(ServerSettings::default()).await
    }

    async fn with(settings: ServerSettings) -> App {
        let db = TestDb::sqlite();
        let store = Arc::new(Store::connect(&DbSettings::from_url(db.url()).unwrap()).await.unwrap());
        let (writer, _task) = crate::service::ingest::EventWriter::start(&store);
        let state = AppState::new(store, writer, settings);
        App { router: crate::router(state), _db: db }
    }

    /// Opens a dashboard session with `key`; its cookie's token.
    async fn sign_in(&self, key: &str) -> String {
        let request = Request::post("/api/auth/session")
            .header("authorization", format!("Bearer {key}"))
            .body(Body::empty())
            .unwrap();
        let (response, body) = self.send(request).await;
        assert_eq!(response.status(), StatusCode::OK, "{body}");
        let cookie = header(&response, SET_COOKIE.as_str());
        cookie.split(';').next().unwrap().trim_start_matches("llmlab_session=").to_owned()
    }

    async fn send(&self, request: Request<Body>) -> (Response<Body>, String) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        (Response::from_parts(parts, Body::empty()), String::from_utf8_lossy(&bytes).into_owned())
    }

    /// `GET path`, with the session cookie `token` if any.
    async fn get(&self, path: &str, token: Option<&str>, etag: Option<&str>) -> (Response<Body>, String) {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header(COOKIE, format!("llmlab_session={token}"));
        }
        if let Some(etag) = etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    async fn post_json(&self, path: &str, key: &str, json: &str) -> StatusCode {
        self.call("POST", path, key, json).await.0
    }

    /// `METHOD path` with the API key and a JSON body (empty: none); the status and body.
    async fn call(&self, method: &str, path: &str, key: &str, json: &str) -> (StatusCode, String) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(CONTENT_TYPE, "application/json")
            .header("authorization", format!("Bearer {key}"))
            .body(Body::from(json.to_owned()))
            .unwrap();
        let (response, body) = self.send(request).await;
        (response.status(), body)
    }

    async fn signup(&self) -> String {
        self.signup_with("").await
    }

    /// Signs up with the JSON `body` (empty: none); the new key.
    async fn signup_with(&self, body: &str) -> String {
        let request = Request::post("/api/auth/signup").header(CONTENT_TYPE, "application/json");
        let (_, body) = self.send(request.body(Body::from(body.to_owned())).unwrap()).await;
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        body["api_key"].as_str().unwrap().to_owned()
    }
}

fn header<'a>(response: &'a Response<Body>, name: &str) -> &'a str {
    response.headers().get(name).map_or("", |v| v.to_str().unwrap())
}

#[tokio::test]
async fn pages_carry_a_csp_without_inline_script_and_are_never_cached() {
    let app = App::new().await;
    for path in ["/", "/dashboard", "/settings"] {
        let (response, body) = app.get(path, None, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let csp = header(&response, "content-security-policy");
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        assert_eq!(header(&response, "cache-control"), "no-store");
        assert!(body.starts_with("<!DOCTYPE html>"), "{path}");
    }
}

#[tokio::test]
async fn assets_are_cached_for_a_year_only_at_their_versioned_url() {
    let app = App::new().await;
    let (_, page) = app.get("/", None, None).await;
    let css = page.split("href=\"").find_map(|s| s.strip_prefix("/ui/app.css")).unwrap();
    let css = format!("/ui/app.css{}", &css[..css.find('"').unwrap()]);
    let (response, body) = app.get(&css, None, None).await;
    assert_eq!(header(&response, "cache-control"), "public, max-age=31536000, immutable");
    assert_eq!(header(&response, "content-type"), "text/css; charset=utf-8");
    assert!(body.contains("tailwindcss"), "the generated stylesheet");
    let (response, _) = app.get("/ui/app.css?v=old", None, None).await;
    assert_eq!(header(&response, "cache-control"), "no-cache");
    assert_eq!(app.get("/ui/nope.js", None, None).await.0.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_revoked_session_key_shows_the_sign_in_page_and_clears_the_cookie() {
    let app = App::new().await;
    let (response, body) = app.get("/dashboard", Some(&format!("llm_{}", "0".repeat(48))), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(body.contains("You were signed out"));
    assert!(header(&response, "set-cookie").contains("Max-Age=0"));
    let (response, _) = app.get("/dashboard/panels", Some("nonsense"), None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_panels_answer_304_until_an_event_arrives() {
    let app = App::new().await;
    let key = app.signup().await;
    let session = app.sign_in(&key).await;
    let (page, html) = app.get("/dashboard", Some(&session), None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(html.contains(r#"data-panel="empty""#), "a new account sees the empty state");
    assert!(!html.contains(&key), "the key is never in the page");
    let etag = html.split("data-etag=\"").nth(1).unwrap();
    let etag = etag[..etag.find('"').unwrap()].replace("&quot;", "\"");

    let (response, body) = app.get("/dashboard/panels", Some(&session), Some(&etag)).await;
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(header(&response, "etag"), etag);

    let event = r#"{"provider": "openai", "model": "<b>gpt</b>", "input_tokens": 10, "output_tokens": 5}"#;
    assert_eq!(app.post_json("/api/events/track", &key, event).await, StatusCode::CREATED);
    let (response, body) = app.get("/dashboard/panels", Some(&session), Some(&etag)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_ne!(header(&response, ETAG.as_str()), etag);
    assert!(body.contains(r#"data-panel="totals""#) && !body.contains(r#"data-panel="empty""#));
    assert!(body.contains("&lt;b&gt;gpt&lt;/b&gt;") && !body.contains("<b>gpt"), "escaped: {body}");
}

#[tokio::test]
async fn the_budget_bars_follow_budget_changes_holds_and_spend_without_a_reload() {
    let app = App::new().await;
    let key = app.signup().await;
    let session = app.sign_in(&key).await;
    let track = r#"{"provider": "openai", "model": "gpt-4o", "input_tokens": 1000000, "output_tokens": 0, "project": "search"}"#;
    assert_eq!(app.post_json("/api/events/track", &key, track).await, StatusCode::CREATED);
    let (_, html) = app.get("/dashboard", Some(&session), None).await;
    let etag = html.split("data-etag=\"").nth(1).unwrap();
    let mut etag = etag[..etag.find('"').unwrap()].replace("&quot;", "\"");
    assert!(html.contains(r#"data-budget-state="none""#), "no budget yet");
    // Each step must change the panels' version, and the next poll shows it.
    let mut poll = async |step: &str| {
        let (response, body) = app.get("/dashboard/panels", Some(&session), Some(&etag)).await;
        assert_eq!(response.status(), StatusCode::OK, "{step}: the version did not change");
        etag = header(&response, ETAG.as_str()).to_owned();
        body
    };

    let (status, body) = app
        .call("POST", "/api/budgets/scoped", &key, r#"{"amount_usd": "10", "scope": "project", "target": "search"}"#)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"].as_i64().unwrap();
    let body = poll("created").await;
    assert!(body.contains(&format!(r#"data-budget-id="{id}""#)), "{body}");
    assert!(body.contains("Monthly budget · project") && body.contains("$2.50</span> of"), "counts its month: {body}");

    let (status, _) =
        app.call("PATCH", &format!("/api/budgets/scoped/{id}"), &key, r#"{"hard": true, "period": "week"}"#).await;
    assert_eq!(status, StatusCode::OK);
    let body = poll("made hard, weekly").await;
    assert!(body.contains("Weekly budget · project") && body.contains(">Hard</span>"), "{body}");

    let reserve = r#"{"provider": "openai", "model": "gpt-4o", "project": "search", "max_output_tokens": 1000}"#;
    let (status, held) = app.call("POST", "/api/budgets/reserve", &key, reserve).await;
    assert_eq!(status, StatusCode::CREATED, "{held}");
    let body = poll("a call in flight").await;
    assert!(body.contains("Held by calls in flight"), "{body}");

    assert_eq!(app.post_json("/api/events/track", &key, track).await, StatusCode::CREATED);
    let body = poll("more spend").await;
    assert!(body.contains("$5.00</span> of"), "{body}");

    let (status, _) = app.call("DELETE", &format!("/api/budgets/scoped/{id}"), &key, "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let body = poll("deleted").await;
    assert!(!body.contains("data-budget-id") && body.contains(r#"data-budget-state="none""#), "{body}");
}

#[tokio::test]
async fn the_settings_page_lists_every_budget_by_its_keys_name_with_its_edit_and_delete_calls() {
    let app = App::new().await;
    let key = app.signup().await;
    let session = app.sign_in(&key).await;
    let (status, created) = app.call("POST", "/api/keys", &key, r#"{"name": "ci"}"#).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let body = r#"{"amount_usd": "5", "scope": "key", "target": "ci", "period": "day", "thresholds": [50, 90]}"#;
    let (status, budget) = app.call("POST", "/api/budgets/scoped", &key, body).await;
    assert_eq!(status, StatusCode::CREATED, "{budget}");
    let budget: serde_json::Value = serde_json::from_str(&budget).unwrap();
    let (id, key_id) = (budget["id"].as_i64().unwrap(), budget["target"].as_str().unwrap());

    let (_, html) = app.get("/settings", Some(&session), None).await;

    assert!(html.contains(&format!(r#"title="{key_id}">ci</span>"#)), "named by the key's name: {html}");
    assert!(html.contains(&format!(r#"data-api="PATCH /api/budgets/scoped/{id}""#)), "{html}");
    assert!(html.contains(&format!(r#"data-api="DELETE /api/budgets/scoped/{id}""#)), "{html}");
    assert!(html.contains(r#"value="50, 90""#) && html.contains("No monthly budget is set"), "{html}");
    assert!(html.contains(&format!(r#"<option value="{key_id}">ci ({key_id}…)</option>"#)), "{html}");
}

#[tokio::test]
async fn the_plain_sign_in_form_sets_the_cookie_and_redirects_without_a_key_in_the_url() {
    let app = App::new().await;
    let key = app.signup().await;
    let form = |key: &str, site: &str| {
        Request::post("/session")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("sec-fetch-site", site)
            .body(Body::from(format!("api_key={key}&next=%2Fsettings")))
            .unwrap()
    };
    let (response, _) = app.send(form(&key, "same-origin")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(header(&response, LOCATION.as_str()), "/settings");
    let cookie = header(&response, SET_COOKIE.as_str());
    assert!(cookie.contains("HttpOnly; SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains(&key[12..]), "the cookie holds a session token, not the key: {cookie}");

    let (response, body) = app.send(form("llm_wrong", "same-origin")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(body.contains("This API key is not valid"));

    let (response, _) = app.send(form(&key, "cross-site")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_dashboard_greets_the_account_by_its_name_or_a_short_id() {
    let app = App::new().await;
    let named = app.sign_in(&app.signup_with(r#"{"name": "Ada Lovelace"}"#).await).await;
    let unnamed = app.sign_in(&app.signup().await).await;

    let (_, named_page) = app.get("/dashboard", Some(&named), None).await;
    let (_, unnamed_page) = app.get("/dashboard", Some(&unnamed), None).await;

    let greeting = |page: &str| {
        let at = page.find(r#"id="signed-in-as""#).expect("a greeting");
        let text = &page[at..];
        text[text.find('>').unwrap() + 1..text.find("</span>").unwrap()].to_owned()
    };
    assert_eq!(greeting(&named_page), "Ada Lovelace");
    let short = greeting(&unnamed_page);
    assert!(short.starts_with("usr_…") && short.chars().count() == 13, "{short}");
}

#[tokio::test]
async fn the_sign_up_form_follows_the_servers_policy() {
    use crate::signup::SignupPolicy;
    let page = |policy| async move {
        let app = App::with(ServerSettings { signup: policy, ..ServerSettings::default() }).await;
        app.get("/signup?invite=inv_abc", None, None).await.1
    };

    let open = page(SignupPolicy::Open).await;
    let invite = page(SignupPolicy::Invite).await;
    let closed = page(SignupPolicy::Closed).await;

    assert!(open.contains(r#"id="signup-button""#) && open.contains(r#"id="signup-name""#), "{open}");
    assert!(!open.contains(r#"id="signup-invite""#));
    assert!(invite.contains(r#"id="signup-invite""#) && invite.contains(r#"value="inv_abc""#), "{invite}");
    assert!(closed.contains("does not accept sign-ups") && !closed.contains(r#"id="signup-button""#), "{closed}");
}

#[tokio::test]
async fn the_landing_page_installs_from_a_clone_and_names_the_pypi_packages_to_come() {
    let app = App::new().await;
    let (_, html) = app.get("/", None, None).await;
    assert!(html.contains("git clone https://github.com/llmlab/llmlab\ncd llmlab\n"), "{html}");
    assert!(html.contains("pip install ./crates/llmlab-cli ./sdk/python\n"), "{html}");
    assert!(html.contains("pip install llmlab-cli llmlab"), "the names once published: {html}");
    assert!(!html.contains("llmlab[cli]"), "not on PyPI yet: {html}");
}

#[tokio::test]
async fn the_sign_up_result_has_room_for_the_key_and_the_init_command_that_uses_it() {
    let app = App::new().await;
    let (_, html) = app.get("/dashboard", None, None).await;
    assert!(html.contains(r#"id="new-account-key" data-new-key="new-account-key-init""#), "{html}");
    assert!(html.contains(r#"<code id="new-account-key-init">"#), "{html}");
    assert!(html.contains("would create another account"), "{html}");
}

#[tokio::test]
async fn the_settings_page_lists_alert_channels_by_their_hints_and_logs_a_test_alert_never_showing_a_secret() {
    let app = App::new().await;
    let key = app.signup().await;
    let session = app.sign_in(&key).await;
    let (_, html) = app.get("/settings", Some(&session), None).await;
    assert!(html.contains(r#"id="channels-none""#) && html.contains(r#"id="alert-log-none""#), "{html}");
    // The opening tag of the test button.
    let test_button = |html: &str| {
        let at = html.find(r#"id="alert-test""#).expect("the test button");
        html[at..at + html[at..].find('>').unwrap()].to_owned()
    };
    assert!(test_button(&html).contains(" disabled"), "nothing to test yet: {html}");
    assert!(html.contains(r#"id="smtp-missing""#), "this server has no SMTP settings: {html}");

    let target = "https://hooks.example.com/in/very-secret-path-a1b2";
    let (status, created) = app
        .call(
            "POST",
            "/api/alerts/channels",
            &key,
            &format!(r#"{{"kind": "webhook", "target": "{target}", "name": "<b>ops</b>"}}"#),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let created: serde_json::Value = serde_json::from_str(&created).unwrap();
    let (id, secret) = (created["channel"]["id"].as_i64().unwrap(), created["secret"].as_str().unwrap());
    let (status, queued) = app.call("POST", "/api/alerts/test", &key, "{}").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");

    let (_, html) = app.get("/settings", Some(&session), None).await;
    let (response, sections) = app.get("/settings/sections", Some(&session), None).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert!(html.contains(&sections), "the sections are the page's: {sections}");
    assert!(!html.contains(secret) && !html.contains("very-secret-path"), "only the hint: {html}");
    assert!(html.contains(&format!(r#"data-channel-id="{id}""#)), "{html}");
    assert!(html.contains(&format!(r#"data-api="DELETE /api/alerts/channels/{id}""#)), "{html}");
    assert!(html.contains("&lt;b&gt;ops&lt;/b&gt;") && !html.contains("<b>ops"), "escaped: {html}");
    assert!(!test_button(&html).contains(" disabled"), "{html}");
    assert!(html.contains(r##"href="#alerts""##), "the section is in the page's menu: {html}");
    // No worker runs in these tests: the test alert waits in the log, and the page follows it.
    assert!(html.contains("Test alert from LLMLab") && html.contains(r#"data-delivery-state="pending""#), "{html}");
    assert!(html.contains("data-deliveries-pending"), "{html}");
    assert!(html.contains(">llmlab alerts log</code>"), "the action's command as code: {html}");
}
