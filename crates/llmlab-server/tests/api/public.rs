//! Deploying in public (issue 13): who may sign up, how fast sign-ins may
//! be tried, dashboard sessions that are not keys, cross-site forms, and
//! bodies refused from their announced length.

use std::time::Duration;

use llmlab_server::ServerSettings;
use llmlab_server::limits::AuthRateLimit;
use llmlab_server::signup::{SignupPolicy, hash_secret};
use llmlab_store::{DbSettings, NewSession, Store};
use llmlab_test_support::{Api, Reply, TestApp, TestBackend, server_test_with};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::server_test;

const ADMIN: &str = "llmadm_test-admin-token-0123456789abcdef";

/// A server with `policy` and the admin token [`ADMIN`].
async fn with_policy(backend: TestBackend, policy: SignupPolicy) -> TestApp {
    let settings =
        ServerSettings { signup: policy, admin_token_hash: Some(hash_secret(ADMIN)), ..ServerSettings::default() };
    TestApp::start_with(backend, settings).await
}

async fn closed(backend: TestBackend) -> TestApp {
    with_policy(backend, SignupPolicy::Closed).await
}

async fn invite_only(backend: TestBackend) -> TestApp {
    with_policy(backend, SignupPolicy::Invite).await
}

/// A server allowing 3 sign-up or sign-in attempts per address a minute; `trust` reads `X-Forwarded-For`.
async fn limited(backend: TestBackend, trust: bool) -> TestApp {
    let settings = ServerSettings {
        auth_rate_limit: Some("3/min".parse::<AuthRateLimit>().unwrap()),
        trust_proxy_headers: trust,
        ..ServerSettings::default()
    };
    TestApp::start_with(backend, settings).await
}

async fn limited_trusting(backend: TestBackend) -> TestApp {
    limited(backend, true).await
}

async fn limited_direct(backend: TestBackend) -> TestApp {
    limited(backend, false).await
}

fn assert_refused(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!((reply.status, reply.code()), (status, code), "{}", reply.text);
}

server_test_with!(closed, a_closed_server_creates_accounts_only_with_the_admin_token, |server| async move {
    let anonymous = Api::anonymous(&server);

    let refused = anonymous.post("/api/auth/signup", json!({ "name": "mallory" })).await;
    let wrong = anonymous.with_key("llmadm_not-the-token").post("/api/auth/signup", json!({})).await;
    let invite = anonymous.post("/api/auth/signup", json!({ "invite": "inv_whatever" })).await;
    let admin = anonymous.with_key(ADMIN).post("/api/auth/signup", json!({ "name": "ada" })).await;

    assert_refused(&refused, StatusCode::FORBIDDEN, "signup_closed");
    assert!(refused.message().contains("ask its operator for an account"), "{}", refused.message());
    assert!(refused.message().contains("llmlab init --api-key"), "says what to do next: {}", refused.message());
    assert_refused(&wrong, StatusCode::UNAUTHORIZED, "invalid_admin_token");
    assert_refused(&invite, StatusCode::FORBIDDEN, "signup_closed");
    assert_eq!(admin.status, StatusCode::CREATED, "{}", admin.text);
    let key = admin.body["api_key"].as_str().unwrap();
    assert_eq!(anonymous.with_key(key).get("/api/account").await.body["name"], "ada");
});

server_test_with!(invite_only, an_invite_only_server_takes_each_invite_once, |server| async move {
    let anonymous = Api::anonymous(&server);
    let admin = anonymous.with_key(ADMIN);

    let without = anonymous.post("/api/auth/signup", json!({})).await;
    assert_refused(&without, StatusCode::FORBIDDEN, "invite_required");
    assert!(without.message().contains("invite link"), "{}", without.message());

    let invite = admin.post("/api/auth/invites", json!({})).await;
    assert_eq!(invite.status, StatusCode::CREATED, "{}", invite.text);
    let token = invite.body["invite"].as_str().unwrap();
    let url = invite.body["url"].as_str().unwrap();
    assert!(token.starts_with("inv_"), "{token}");
    assert_eq!(url, format!("{}/signup?invite={token}", server.base_url));
    assert!(invite.body["expires_at"].is_string());

    // The whole link works as the invite, once.
    let joined = anonymous.post("/api/auth/signup", json!({ "name": "bea", "invite": url })).await;
    assert_eq!(joined.status, StatusCode::CREATED, "{}", joined.text);
    let again = anonymous.post("/api/auth/signup", json!({ "invite": token })).await;
    assert_refused(&again, StatusCode::FORBIDDEN, "invite_invalid");
    assert!(again.message().contains("ask for a new one"), "{}", again.message());
    let made_up = anonymous.post("/api/auth/signup", json!({ "invite": "inv_made-up" })).await;
    assert_refused(&made_up, StatusCode::FORBIDDEN, "invite_invalid");

    // Members invite members; an invite's lifetime is bounded.
    let bea = anonymous.with_key(joined.body["api_key"].as_str().unwrap());
    let from_bea = bea.post("/api/auth/invites", json!({ "expires_in_hours": 1 })).await;
    assert_eq!(from_bea.status, StatusCode::CREATED, "{}", from_bea.text);
    let by_bea = anonymous.post("/api/auth/signup", json!({ "invite": from_bea.body["invite"] })).await;
    assert_eq!(by_bea.status, StatusCode::CREATED, "{}", by_bea.text);
    let too_long = bea.post("/api/auth/invites", json!({ "expires_in_hours": 721 })).await;
    assert_refused(&too_long, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    let nobody = anonymous.post("/api/auth/invites", json!({})).await;
    assert_refused(&nobody, StatusCode::UNAUTHORIZED, "missing_api_key");
    let forged = anonymous.with_key("llmadm_forged").post("/api/auth/invites", json!({})).await;
    assert_refused(&forged, StatusCode::UNAUTHORIZED, "invalid_admin_token");

    // The admin token can also create an account directly.
    let direct = admin.post("/api/auth/signup", json!({})).await;
    assert_eq!(direct.status, StatusCode::CREATED, "{}", direct.text);
});

/// `POST path` from the address `forwarded` claims, if any.
async fn attempt(api: &Api, path: &str, forwarded: Option<&str>) -> reqwest::Response {
    let mut request = api.client.post(format!("{}{path}", api.base)).header("content-type", "application/json");
    if let Some(address) = forwarded {
        request = request.header("x-forwarded-for", address);
    }
    request.body("{}").send().await.unwrap()
}

server_test_with!(limited_direct, sign_ups_and_sign_ins_are_rate_limited_per_address, |server| async move {
    let anonymous = Api::anonymous(&server);
    let alice = Api::signup(&server, "alice").await;

    for _ in 0..2 {
        assert_eq!(attempt(&anonymous, "/api/auth/signup", None).await.status(), StatusCode::CREATED);
    }
    let refused = attempt(&anonymous, "/api/auth/signup", None).await;
    let login = attempt(&anonymous, "/api/auth/login", None).await;
    let session = attempt(&anonymous, "/api/auth/session", None).await;
    let spoofed = attempt(&anonymous, "/api/auth/signup", Some("198.51.100.7")).await;

    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&wait), "one attempt every 20 s: {wait}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(body["error"]["message"].as_str().unwrap().contains("try again in"), "{body}");
    for other in [login, session, spoofed] {
        assert_eq!(other.status(), StatusCode::TOO_MANY_REQUESTS, "one bucket; X-Forwarded-For is not trusted");
    }
    assert_eq!(alice.get("/api/account").await.status, StatusCode::OK, "other requests are not limited");
});

server_test_with!(limited_trusting, behind_a_proxy_each_forwarded_address_has_its_own_limit, |server| async move {
    let anonymous = Api::anonymous(&server);
    for _ in 0..3 {
        assert_eq!(attempt(&anonymous, "/api/auth/signup", Some("198.51.100.7")).await.status(), StatusCode::CREATED);
    }
    let same = attempt(&anonymous, "/api/auth/signup", Some("203.0.113.9, 198.51.100.7")).await;
    let other = attempt(&anonymous, "/api/auth/signup", Some("198.51.100.8")).await;
    assert_eq!(same.status(), StatusCode::TOO_MANY_REQUESTS, "the proxy's (last) entry counts");
    assert_eq!(other.status(), StatusCode::CREATED);
});

/// A browser signed in to `server`: the session cookie, sent with this server's `Origin`.
#[derive(Clone)]
struct Browser {
    client: reqwest::Client,
    base: String,
    cookie: String,
}

impl Browser {
    /// Signs in with `key` as the dashboard's script does.
    async fn sign_in(api: &Api, key: &str, user_agent: &str) -> Browser {
        let response = api
            .client
            .post(format!("{}/api/auth/session", api.base))
            .header("content-type", "application/json")
            .header("origin", &api.base)
            .header("user-agent", user_agent)
            .body(json!({ "api_key": key }).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let set_cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        Browser { client: api.client.clone(), base: api.base.clone(), cookie }
    }

    fn token(&self) -> &str {
        self.cookie.trim_start_matches("llmlab_session=")
    }

    async fn send(&self, method: Method, path: &str) -> Reply {
        let response = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("origin", &self.base)
            .header("sec-fetch-site", "same-origin")
            .send()
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        Reply { status, body: serde_json::from_str(&text).unwrap_or(Value::Null), text, headers }
    }
}

async fn open_store(server: &TestApp) -> Store {
    Store::connect(&DbSettings::from_url(server.db().url()).unwrap()).await.unwrap()
}

server_test!(the_session_cookie_holds_a_random_token_stored_only_hashed, |server| async move {
    let alice = Api::signup(&server, "alice").await;
    let key = alice.key.clone().unwrap();

    let browser = Browser::sign_in(&alice, &key, "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0").await;

    assert!(!browser.cookie.contains(&key) && !browser.cookie.contains(&key[12..]), "{}", browser.cookie);
    assert!(browser.token().len() == 64 && browser.token().bytes().all(|b| b.is_ascii_hexdigit()));
    let store = open_store(&server).await;
    assert!(store.find_session(browser.token()).await.unwrap().is_none(), "the token itself is not stored");
    let stored = store.find_session(&llmlab_server::session::hash_token(browser.token())).await.unwrap().unwrap();
    assert_eq!(stored.key_id, &key[..12]);
    let lifetime = stored.expires_at - stored.created_at;
    assert_eq!(lifetime, 30 * 24 * 3_600_000, "30 days");

    let account = browser.send(Method::GET, "/api/account").await;
    assert_eq!(account.body["name"], "alice", "{}", account.text);
    let sessions = browser.send(Method::GET, "/api/auth/sessions").await;
    assert_eq!(sessions.status, StatusCode::OK, "{}", sessions.text);
    let listed = &sessions.body[0];
    assert_eq!(
        (listed["current"].as_bool(), listed["session_id"].as_str()),
        (Some(true), Some(stored.public_id.as_str()))
    );
    assert_eq!(listed["user_agent"], "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0");
    assert!(listed["created_at"].is_string() && listed["last_seen_at"].is_string());
    assert!(!sessions.text.contains(browser.token()), "never listed");
});

server_test!(sessions_end_one_by_one_everywhere_and_with_their_key, |server| async move {
    let alice = Api::signup(&server, "alice").await;
    let key = alice.key.clone().unwrap();
    let second = alice.post("/api/keys", json!({ "name": "laptop" })).await;
    let second_key = second.body["api_key"].as_str().unwrap().to_owned();
    let laptop = Browser::sign_in(&alice, &key, "laptop").await;
    let phone = Browser::sign_in(&alice, &key, "phone").await;
    let tablet = Browser::sign_in(&alice, &second_key, "tablet").await;
    let bob = Api::signup(&server, "bob").await;
    let phone_id = phone
        .send(Method::GET, "/api/auth/sessions")
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // One by one, and never another account's.
    assert_eq!(bob.delete(&format!("/api/auth/sessions/{phone_id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(phone.send(Method::GET, "/api/account").await.status, StatusCode::OK);
    let ended = laptop.send(Method::DELETE, &format!("/api/auth/sessions/{phone_id}")).await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT, "{}", ended.text);
    assert_refused(&phone.send(Method::GET, "/api/account").await, StatusCode::UNAUTHORIZED, "session_ended");
    assert_eq!(laptop.send(Method::GET, "/api/account").await.status, StatusCode::OK);

    // Revoking a key ends the sessions opened with it.
    let key_id = second.body["key"]["key_id"].as_str().unwrap();
    assert_eq!(alice.delete(&format!("/api/keys/{key_id}")).await.status, StatusCode::OK);
    assert_refused(&tablet.send(Method::GET, "/api/account").await, StatusCode::UNAUTHORIZED, "session_ended");
    assert_eq!(laptop.send(Method::GET, "/api/account").await.status, StatusCode::OK);

    // Signing out ends this session on the server, not only in the browser.
    let other = Browser::sign_in(&alice, &key, "other").await;
    let signed_out = laptop.send(Method::DELETE, "/api/auth/session").await;
    assert_eq!(signed_out.status, StatusCode::NO_CONTENT);
    assert!(signed_out.headers["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    assert_refused(&laptop.send(Method::GET, "/api/account").await, StatusCode::UNAUTHORIZED, "session_ended");

    // Everywhere.
    let everywhere = other.send(Method::DELETE, "/api/auth/sessions").await;
    assert_eq!(
        (everywhere.status, everywhere.body["ended"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{}",
        everywhere.text
    );
    assert_refused(&other.send(Method::GET, "/api/account").await, StatusCode::UNAUTHORIZED, "session_ended");
    assert_eq!(alice.get("/api/account").await.status, StatusCode::OK, "keys keep working");
});

server_test!(an_expired_session_signs_in_no_more, |server| async move {
    let alice = Api::signup(&server, "alice").await;
    let key = alice.key.clone().unwrap();
    let store = open_store(&server).await;
    let user = store.find_key(&key[..12]).await.unwrap().unwrap().1;
    let token = llmlab_server::session::new_token();
    let now = jiff::Timestamp::now().as_millisecond();
    let expired = NewSession {
        public_id: "ses_expired00000".to_owned(),
        token_hash: llmlab_server::session::hash_token(&token),
        user_id: user.id,
        key_id: key[..12].to_owned(),
        user_agent: None,
        created_at: now - 31 * 24 * 3_600_000,
        expires_at: now - 24 * 3_600_000,
    };
    store.create_session(&expired).await.unwrap();
    let browser =
        Browser { client: alice.client.clone(), base: alice.base.clone(), cookie: format!("llmlab_session={token}") };

    assert_refused(&browser.send(Method::GET, "/api/account").await, StatusCode::UNAUTHORIZED, "session_ended");
    assert!(alice.get("/api/auth/sessions").await.body.as_array().unwrap().is_empty(), "not listed");
});

server_test!(a_cross_site_form_post_is_refused_on_every_form_route, |server| async move {
    let alice = Api::signup(&server, "alice").await;
    let key = alice.key.clone().unwrap();
    let browser = Browser::sign_in(&alice, &key, "victim").await;
    let session_id = alice.get("/api/auth/sessions").await.body[0]["session_id"].as_str().unwrap().to_owned();
    let key_id = key[..12].to_owned();
    let routes = [
        (Method::POST, "/session".to_owned()),
        (Method::POST, "/api/auth/session".to_owned()),
        (Method::DELETE, "/api/auth/session".to_owned()),
        (Method::DELETE, "/api/auth/sessions".to_owned()),
        (Method::DELETE, format!("/api/auth/sessions/{session_id}")),
        (Method::POST, "/api/auth/invites".to_owned()),
        (Method::POST, "/api/keys".to_owned()),
        (Method::DELETE, format!("/api/keys/{key_id}")),
        (Method::PATCH, "/api/account".to_owned()),
        (Method::POST, "/api/budgets".to_owned()),
        (Method::DELETE, "/api/budgets".to_owned()),
        (Method::POST, "/api/prices".to_owned()),
        (Method::DELETE, "/api/prices/gpt-4o".to_owned()),
        (Method::POST, "/api/events/track".to_owned()),
        (Method::POST, "/api/events/batch".to_owned()),
    ];
    for (method, path) in &routes {
        // What a page on another site can make a browser send: a form post, the cookie attached.
        let reply = alice
            .client
            .request(method.clone(), format!("{}{path}", alice.base))
            .header("cookie", &browser.cookie)
            .header("origin", "https://evil.example")
            .header("sec-fetch-site", "cross-site")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("api_key={key}&name=evil&amount_usd=1&period=monthly&timezone=UTC"))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::FORBIDDEN, "{method} {path}");
        assert!(reply.headers().get("set-cookie").is_none(), "{method} {path} signed someone in or out");
    }
    // Nothing changed: the session, the key, the account.
    assert_eq!(browser.send(Method::GET, "/api/account").await.body["name"], "alice");
    assert_eq!(alice.get("/api/keys").await.body.as_array().unwrap().len(), 1);
    assert_eq!(alice.get("/api/budgets").await.body["budget"], Value::Null);
    assert_eq!(alice.get("/api/auth/sessions").await.body.as_array().unwrap().len(), 1);
});

/// Sends `head` then `body` on a new connection and returns the first line
/// of the answer. The connection stays open meanwhile, as a client still
/// sending a long body would keep it.
async fn raw_exchange(base_url: &str, head: String, body: Vec<u8>) -> String {
    let address = base_url.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let sending = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        writer.write_all(&body).await?;
        writer.flush().await?;
        Ok::<_, std::io::Error>(writer)
    });
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let read = async {
        while !answer.windows(2).any(|w| w == b"\r\n") {
            let n = reader.read(&mut buffer).await.unwrap();
            assert!(n > 0, "the server closed the connection without answering");
            answer.extend_from_slice(&buffer[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read).await.expect("an answer without waiting for the body");
    let _ = sending.await;
    String::from_utf8_lossy(&answer).lines().next().unwrap_or_default().to_owned()
}

server_test!(a_body_announced_over_the_limit_is_refused_before_it_is_sent, |server| async move {
    let alice = Api::signup(&server, "alice").await;
    let host = server.base_url.trim_start_matches("http://").to_owned();
    let key = alice.key.clone().unwrap();

    // 100 MiB announced, a few bytes sent: the 413 comes from the header alone.
    let head = format!(
        "POST /api/events/batch HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        100 * 1024 * 1024
    );
    let status = raw_exchange(&server.base_url, head, br#"{"events": ["#.to_vec()).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");

    // The sign-up page's form and the anonymous API too.
    let head = format!(
        "POST /api/auth/signup HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        llmlab_server::BODY_LIMIT + 1
    );
    let status = raw_exchange(&server.base_url, head, b"{}".to_vec()).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
});

server_test!(a_chunked_body_over_the_limit_still_gets_413, |server| async move {
    let alice = Api::signup(&server, "alice").await;
    let host = server.base_url.trim_start_matches("http://").to_owned();
    let key = alice.key.clone().unwrap();
    let head = format!(
        "POST /api/events/batch HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let chunk = vec![b' '; 1024 * 1024];
    let mut body = Vec::new();
    for _ in 0..9 {
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(&chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");

    let status = raw_exchange(&server.base_url, head, body).await;

    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
});

async fn behind_https(backend: TestBackend) -> TestApp {
    TestApp::start_with(backend, ServerSettings { secure_cookies: true, ..ServerSettings::default() }).await
}

server_test_with!(behind_https, behind_a_tls_proxy_the_session_cookie_is_secure, |server| async move {
    let alice = Api::signup(&server, "alice").await;
    let host = server.base_url.trim_start_matches("http://").to_owned();
    let sign_in = |origin: Option<String>| {
        let mut request = alice
            .client
            .post(format!("{}/api/auth/session", alice.base))
            .header("content-type", "application/json")
            .body(json!({ "api_key": alice.key }).to_string());
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };

    let from_https_page = sign_in(Some(format!("https://{host}"))).await.unwrap();
    let from_http_page = sign_in(Some(format!("http://{host}"))).await.unwrap();

    assert_eq!(from_https_page.status(), StatusCode::OK);
    let cookie = from_https_page.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; HttpOnly; SameSite=Strict") && cookie.ends_with("; Secure"), "{cookie}");
    assert_eq!(from_http_page.status(), StatusCode::FORBIDDEN, "a plain-HTTP page is another origin");
    let signed_out = alice.delete("/api/auth/session").await;
    assert!(signed_out.headers["set-cookie"].to_str().unwrap().ends_with("; Secure"));
});

server_test!(signing_in_again_in_a_browser_ends_its_previous_session, |server| async move {
    let alice = Api::signup(&server, "alice").await;
    let key = alice.key.clone().unwrap();
    let first = Browser::sign_in(&alice, &key, "firefox").await;

    let again = alice
        .client
        .post(format!("{}/api/auth/session", alice.base))
        .header("content-type", "application/json")
        .header("cookie", &first.cookie)
        .header("origin", &alice.base)
        .body(json!({ "api_key": key }).to_string())
        .send()
        .await
        .unwrap();

    assert_eq!(again.status(), StatusCode::OK);
    let cookie = again.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let second = Browser { cookie, ..first.clone() };
    assert_refused(&first.send(Method::GET, "/api/account").await, StatusCode::UNAUTHORIZED, "session_ended");
    assert_eq!(second.send(Method::GET, "/api/account").await.status, StatusCode::OK);
    assert_eq!(alice.get("/api/auth/sessions").await.body.as_array().unwrap().len(), 1);
});
