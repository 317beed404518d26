//! Batch jobs through the proxy: a stub upstream serves the batch fixtures
//! (`fixtures/batch/`) in small chunks, so lines span chunks, and the
//! results are downloaded through the proxy as the official clients do.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;
use llmlab_server::ServerSettings;
use llmlab_server::proxy::ProxySettings;
use llmlab_test_support::{Api, TestApp, TestBackend, fixtures_dir};
use serde_json::{Value, json};

fn fixture(name: &str) -> Bytes {
    Bytes::from(std::fs::read(fixtures_dir().join("batch").join(name)).unwrap())
}

/// A batch input file: not results, never recorded.
const INPUT_FILE: &[u8] = br#"{"custom_id":"request-1","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","messages":[]}}
{"custom_id":"request-2","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","messages":[]}}
"#;

/// `body` in 100-byte chunks, as a stream without a length.
fn chunked(body: &Bytes) -> Response {
    let chunks: Vec<Result<Bytes, std::io::Error>> =
        (0..body.len()).step_by(100).map(|at| Ok(body.slice(at..body.len().min(at + 100)))).collect();
    ([("content-type", "application/octet-stream")], Body::from_stream(futures::stream::iter(chunks))).into_response()
}

/// The output file's first two lines, then the rest two seconds later.
fn slowly(body: &Bytes) -> Response {
    let second_newline = body.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(1).unwrap().0;
    let (first, rest) = (body.slice(..=second_newline), body.slice(second_newline + 1..));
    let parts = futures::stream::iter([(first, Duration::ZERO), (rest, Duration::from_secs(2))]).then(
        |(part, wait)| async move {
            tokio::time::sleep(wait).await;
            Ok::<_, std::io::Error>(part)
        },
    );
    ([("content-type", "application/octet-stream")], Body::from_stream(parts)).into_response()
}

async fn file_content(Path(id): Path<String>, Query(query): Query<HashMap<String, String>>) -> Response {
    match id.as_str() {
        "file-out" if query.contains_key("slow") => slowly(&fixture("openai_batch_output.jsonl")),
        "file-out" => chunked(&fixture("openai_batch_output.jsonl")),
        "file-input" => chunked(&Bytes::from_static(INPUT_FILE)),
        "file-pdf" => {
            ([("content-type", "application/pdf")], b"%PDF-1.7\n{\"custom_id\":\"x\"}\n".as_slice()).into_response()
        }
        _ => (axum::http::StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

async fn openai_batch(Path(id): Path<String>) -> axum::Json<Value> {
    axum::Json(json!({"id": id, "object": "batch", "status": "completed", "input_file_id": "file-input",
        "output_file_id": "file-out", "error_file_id": null}))
}

async fn anthropic_batch(State(base): State<String>, Path(id): Path<String>) -> axum::Json<Value> {
    axum::Json(json!({"id": id, "type": "message_batch", "processing_status": "ended",
        "results_url": format!("{base}/v1/messages/batches/{id}/results")}))
}

/// Starts the stub upstream; returns its base URL.
async fn stub_upstream() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/v1/files/{id}/content", get(file_content))
        .route("/v1/batches/{id}", get(openai_batch))
        .route("/v1/messages/batches/{id}", get(anthropic_batch))
        .route(
            "/v1/messages/batches/{id}/results",
            get(|| async { chunked(&fixture("anthropic_batch_results.jsonl")) }),
        )
        .with_state(base.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// A server whose proxy forwards to a stub upstream.
struct Setup {
    app: TestApp,
    api: Api,
}

async fn start(backend: TestBackend) -> Setup {
    let upstream = stub_upstream().await;
    let proxy = ProxySettings {
        upstream_openai: upstream.clone(),
        upstream_anthropic: upstream.clone(),
        upstream_gemini: upstream,
        ..ProxySettings::default()
    };
    let app = TestApp::start_with(backend, ServerSettings { proxy, ..ServerSettings::default() }).await;
    let api = Api::signup(&app, "batcher").await;
    Setup { app, api }
}

impl Setup {
    async fn proxy_get(&self, url: &str) -> reqwest::Response {
        let url = if url.starts_with("http") { url.to_owned() } else { format!("{}{url}", self.api.base) };
        let response = self
            .api
            .client
            .get(url)
            .header("x-llmlab-key", self.api.key.as_deref().unwrap())
            .header("x-llmlab-project", "batchwork")
            .header("x-llmlab-tags", "team=data")
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        response
    }

    /// Waits until `calls` events are stored (and a moment more, for any
    /// extra one to show up), then returns them as CSV rows.
    async fn events(&self, calls: u64) -> Vec<HashMap<String, String>> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let stored = self.api.get("/api/costs/summary").await.body["all_time_calls"].as_u64().unwrap();
            if stored >= calls {
                break;
            }
            assert!(Instant::now() < deadline, "only {stored} of {calls} results were recorded");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let csv = self.api.get("/api/events/export").await.text;
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let headers = reader.headers().unwrap().clone();
        let rows: Vec<HashMap<String, String>> = reader
            .records()
            .map(|row| headers.iter().map(str::to_owned).zip(row.unwrap().iter().map(str::to_owned)).collect())
            .collect();
        assert_eq!(rows.len() as u64, calls, "{rows:?}");
        rows
    }
}

fn all_time_usd(summary: &Value) -> &str {
    summary["all_time_usd"].as_str().unwrap()
}

llmlab_test_support::server_test_with!(
    start,
    an_openai_batch_output_file_downloaded_twice_records_each_result_once,
    |setup| async move {
        let budget = json!({ "amount_usd": "1", "scope": "project", "target": "batchwork", "period": "total" });
        assert_eq!(setup.api.post("/api/budgets/scoped", budget).await.status, 201);
        // The client looks at its batch first: the proxy learns its output file.
        let batch: Value = setup.proxy_get("/proxy/openai/v1/batches/batch_abc").await.json().await.unwrap();
        assert_eq!(batch["output_file_id"], "file-out", "batch objects pass through unchanged");

        for _ in 0..2 {
            let body = setup.proxy_get("/proxy/openai/v1/files/file-out/content").await.bytes().await.unwrap();
            assert_eq!(body, fixture("openai_batch_output.jsonl"), "the file passes through byte for byte");
        }

        let events = setup.events(3).await;
        let summary = setup.api.get("/api/costs/summary").await.body;
        assert_eq!(all_time_usd(&summary), "0.0026925", "{summary}");
        let mut ids: Vec<&str> = events.iter().map(|e| e["event_id"].as_str()).collect();
        ids.sort_unstable();
        assert_eq!(
            ids,
            ["batch:openai:file-out:request-1", "batch:openai:file-out:request-2", "batch:openai:file-out:request-3"]
        );
        for event in &events {
            assert_eq!(
                (event["project"].as_str(), event["service_tier"].as_str()),
                ("batchwork", "batch"),
                "{event:?}"
            );
            let tags: Value = serde_json::from_str(&event["tags"]).unwrap();
            assert_eq!(tags, json!({"batch_id": "batch_abc", "team": "data"}));
            assert_eq!(event["timestamp"].get(..10), Some("2026-12-06"), "the response's own time: {event:?}");
        }
        let cost = |custom_id: &str| {
            let id = format!("batch:openai:file-out:{custom_id}");
            events.iter().find(|e| e["event_id"] == id).unwrap()["cost_usd"].clone()
        };
        assert_eq!(
            (cost("request-1"), cost("request-2"), cost("request-3")),
            ("0.00018".into(), "0.0002625".into(), "0.00225".into())
        );
        let budgets = setup.api.get("/api/budgets/scoped").await.body;
        assert_eq!(budgets["budgets"][0]["status"]["spent_usd"], "0.0026925", "{budgets}");
        setup.app.stop().await;
    }
);

llmlab_test_support::server_test_with!(
    start,
    anthropic_batch_results_downloaded_twice_record_each_result_once,
    |setup| async move {
        // The official client retrieves the batch, then downloads its `results_url`.
        let batch: Value =
            setup.proxy_get("/proxy/anthropic/v1/messages/batches/msgbatch_01").await.json().await.unwrap();
        let results_url = batch["results_url"].as_str().unwrap().to_owned();
        assert_eq!(
            results_url,
            format!("{}/proxy/anthropic/v1/messages/batches/msgbatch_01/results", setup.api.base),
            "the results are downloaded through the proxy"
        );
        for _ in 0..2 {
            let body = setup.proxy_get(&results_url).await.bytes().await.unwrap();
            assert_eq!(body, fixture("anthropic_batch_results.jsonl"));
        }

        let events = setup.events(2).await;
        let summary = setup.api.get("/api/costs/summary").await.body;
        assert_eq!(all_time_usd(&summary), "0.0017", "{summary}");
        let mut ids: Vec<&str> = events.iter().map(|e| e["event_id"].as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["batch:anthropic:msgbatch_01:request-1", "batch:anthropic:msgbatch_01:request-2"]);
        for event in &events {
            assert_eq!(
                (event["provider"].as_str(), event["model"].as_str()),
                ("anthropic", "claude-haiku-4-5-20251001")
            );
            let tags: Value = serde_json::from_str(&event["tags"]).unwrap();
            assert_eq!(tags, json!({"batch_id": "msgbatch_01", "team": "data"}));
        }
        setup.app.stop().await;
    }
);

llmlab_test_support::server_test_with!(
    start,
    other_file_downloads_pass_through_and_record_nothing,
    |setup| async move {
        let input = setup.proxy_get("/proxy/openai/v1/files/file-input/content").await.bytes().await.unwrap();
        assert_eq!(input, INPUT_FILE);
        let pdf = setup.proxy_get("/proxy/openai/v1/files/file-pdf/content").await;
        assert_eq!(pdf.headers()["content-type"], "application/pdf");
        assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF-1.7"));
        let missing = setup.api.client.get(format!("{}/proxy/openai/v1/files/file-none/content", setup.api.base));
        let missing = missing.header("x-llmlab-key", setup.api.key.as_deref().unwrap()).send().await.unwrap();
        assert_eq!(missing.status(), 404, "the upstream's errors pass through");

        tokio::time::sleep(Duration::from_millis(300)).await;
        let summary = setup.api.get("/api/costs/summary").await.body;
        assert_eq!(summary["all_time_calls"], 0, "{summary}");
        setup.app.stop().await;
    }
);

llmlab_test_support::server_test_with!(
    start,
    the_event_ids_do_not_depend_on_whether_the_batch_was_seen,
    |setup| async move {
        // Downloaded before the proxy saw the batch, then again after.
        setup.proxy_get("/proxy/openai/v1/files/file-out/content").await.bytes().await.unwrap();
        setup.events(3).await;
        setup.proxy_get("/proxy/openai/v1/batches/batch_abc").await.bytes().await.unwrap();
        setup.proxy_get("/proxy/openai/v1/files/file-out/content").await.bytes().await.unwrap();

        let events = setup.events(3).await;
        assert_eq!(all_time_usd(&setup.api.get("/api/costs/summary").await.body), "0.0026925");
        for event in &events {
            assert!(event["event_id"].starts_with("batch:openai:file-out:"), "{event:?}");
            // The first download's events stand: the batch was not known yet.
            assert_eq!(serde_json::from_str::<Value>(&event["tags"]).unwrap(), json!({"team": "data"}));
        }
        setup.app.stop().await;
    }
);

llmlab_test_support::server_test_with!(
    start,
    a_download_cut_short_records_what_it_read_and_a_full_one_the_rest,
    |setup| async move {
        let mut response = setup.proxy_get("/proxy/openai/v1/files/file-out/content?slow=1").await;
        let mut read = Vec::new();
        while memchr::memchr_iter(b'\n', &read).count() < 2 {
            read.extend_from_slice(&response.chunk().await.unwrap().unwrap());
        }
        drop(response);

        // The lines that reached the proxy are recorded (the provider billed every line anyway).
        let deadline = Instant::now() + Duration::from_secs(10);
        while setup.api.get("/api/costs/summary").await.body["all_time_calls"].as_u64().unwrap() < 2 {
            assert!(Instant::now() < deadline, "the lines read before the client left were not recorded");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        setup.proxy_get("/proxy/openai/v1/files/file-out/content").await.bytes().await.unwrap();
        setup.events(3).await;
        assert_eq!(all_time_usd(&setup.api.get("/api/costs/summary").await.body), "0.0026925");
        setup.app.stop().await;
    }
);
