//! Durability: every event acknowledged with 2xx survives a SIGKILL, and
//! SIGTERM shuts down gracefully.

use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::json;

use crate::api::{Api, server_test};

server_test!(acknowledged_events_survive_sigkill_mid_load, |server| async move {
    let api = Api::signup(&server, "alice").await;
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let mut workers = Vec::new();
    for worker in 0..8 {
        let api = api.clone();
        let acknowledged = acknowledged.clone();
        workers.push(tokio::spawn(async move {
            for i in 0.. {
                let id = format!("w{worker}-{i}");
                let event =
                    json!({ "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1000, "event_id": id });
                let Ok(response) = reqwest::Client::new()
                    .post(format!("{}/api/events/track", api.base))
                    .bearer_auth(api.key.as_deref().unwrap())
                    .json(&event)
                    .send()
                    .await
                else {
                    break; // the server is gone
                };
                if response.status().is_success() {
                    acknowledged.lock().unwrap().push(id);
                }
            }
        }));
    }
    // Let the load run, then kill the server without warning.
    while acknowledged.lock().unwrap().len() < 300 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    server.signal("KILL");
    for worker in workers {
        let _ = worker.await;
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    server.restart();
    let api = Api { base: server.base_url.clone(), ..api };
    let export = api.get("/api/events/export").await;
    assert_eq!(export.status, StatusCode::OK);
    let stored: std::collections::HashSet<&str> =
        export.text.lines().skip(1).filter_map(|line| line.split(',').nth(1)).collect();
    let lost: Vec<&String> = acknowledged.iter().filter(|id| !stored.contains(id.as_str())).collect();
    assert!(lost.is_empty(), "{} of {} acknowledged events were lost: {lost:?}", lost.len(), acknowledged.len());
    let summary = api.get("/api/costs/summary").await.body;
    assert_eq!(summary["all_time_calls"].as_u64(), Some(stored.len() as u64), "rollups match the events");
});

server_test!(sigterm_shuts_down_gracefully, |server| async move {
    let api = Api::signup(&server, "alice").await;
    api.post("/api/events/track", json!({ "provider": "openai", "model": "gpt-4o", "input_tokens": 10 })).await;
    let status = server.signal("TERM");
    assert!(status.success(), "exit status {status:?}; log:\n{}", server.log());
    assert!(server.log().contains("stopped"), "{}", server.log());
});
