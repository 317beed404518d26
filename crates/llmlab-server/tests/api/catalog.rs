//! Updating the price catalog without a release (`POST /api/admin/catalog`):
//! only with the admin token; public sources preview and apply with their
//! dated prices; prices that look like a slip need `force`. The whole flow
//! through `llmlab prices update` (restart, older file) is in the CLI crate.

use llmlab_core::catalog::BUILTIN_CATALOG_TOML;
use llmlab_server::ServerSettings;
use llmlab_server::signup::hash_secret;
use llmlab_test_support::{Api, TestApp, TestBackend, server_test_with};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::server_test;

const ADMIN: &str = "llmadm_catalog-admin-token-0123456789abcdef";
const GENAI: &str = include_str!("../../../llmlab-core/src/catalog_import/testdata/genai_prices_0.2.5_subset.json");

async fn with_admin(backend: TestBackend) -> TestApp {
    TestApp::start_with(
        backend,
        ServerSettings { admin_token_hash: Some(hash_secret(ADMIN)), ..ServerSettings::default() },
    )
    .await
}

fn usd(value: &Value) -> Decimal {
    value.as_str().unwrap_or_else(|| panic!("not a decimal string: {value}")).parse().unwrap()
}

server_test!(a_server_without_an_admin_token_lets_nobody_change_its_catalog, |server| async move {
    let api = Api::signup(&server, "alice").await;
    let body = json!({ "content": BUILTIN_CATALOG_TOML, "dry_run": true });
    let refused = api.post("/api/admin/catalog", body).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.code(), "invalid_admin_token");
    assert!(refused.message().contains("set `LLMLAB_ADMIN_TOKEN`"), "{}", refused.message());
});

server_test_with!(
    with_admin,
    a_public_source_prices_unpriced_calls_at_the_rates_of_their_own_date,
    |server| async move {
        let api = Api::signup(&server, "alice").await;
        let admin = Api::anonymous(&server).with_key(ADMIN);
        assert_eq!(api.post("/api/admin/catalog", json!({ "content": GENAI })).await.code(), "invalid_admin_token");
        // Gemini 4 Carbon, not in the built-in catalog: $2/$10 per 1M until 2026-11-30, $4/$20 from 2026-12-01.
        for day in ["2026-11-20", "2026-12-02"] {
            let call = json!({ "provider": "google", "model": "gemini-4-carbon", "input_tokens": 1_000_000,
                           "output_tokens": 1_000_000, "timestamp": format!("{day}T12:00:00Z") });
            let tracked = api.post("/api/events/track", call).await;
            assert_eq!((tracked.status, tracked.body["priced"].as_bool()), (StatusCode::CREATED, Some(false)));
        }
        let before = api.get("/api/costs/summary").await.body;
        assert_eq!(before["unpriced_calls"], 2);

        let preview = admin.post("/api/admin/catalog", json!({ "content": GENAI, "dry_run": true })).await;
        assert_eq!(preview.status, StatusCode::OK, "{}", preview.text);
        assert_eq!(
            (preview.body["applied"].as_bool(), preview.body["format"].as_str()),
            (Some(false), Some("genai-prices"))
        );
        let added = preview.body["added"].as_array().unwrap();
        let carbon = added.iter().find(|m| m["id"] == "gemini-4-carbon").unwrap();
        assert_eq!(
            (carbon["effective_from"].as_str(), carbon["input_per_million_usd"].as_str()),
            (Some("2026-12-01"), Some("4"))
        );
        let unmapped = preview.body["unmapped"].as_array().unwrap();
        assert!(unmapped.iter().any(|n| n["model"] == "claude-4-opus"), "{unmapped:?}");
        assert_eq!(api.get("/api/costs/summary").await.body["unpriced_calls"], 2, "a dry run changes nothing");

        let applied = admin.post("/api/admin/catalog", json!({ "content": GENAI })).await;
        assert_eq!(applied.status, StatusCode::OK, "{}", applied.text);
        assert_eq!(
            (applied.body["applied"].as_bool(), applied.body["repriced_events"].as_u64()),
            (Some(true), Some(2))
        );
        // November: $2 + $10; December: $4 + $20.
        let after = api.get("/api/costs/summary").await.body;
        assert_eq!(after["unpriced_calls"], 0);
        assert_eq!(usd(&after["all_time_usd"]) - usd(&before["all_time_usd"]), Decimal::new(36, 0));
        let export = api.get("/api/events/export").await.text;
        let costs: Vec<&str> = export.lines().filter(|l| l.contains("gemini-4-carbon")).collect();
        assert!(costs.iter().any(|l| l.contains(",12,") || l.contains(",12.000000000,")), "{export}");
        let info = admin.get("/api/admin/catalog").await.body;
        assert_eq!(info["origin"], "update");
        assert!(info["models"].as_u64().unwrap() > added.len() as u64);
    }
);

server_test_with!(with_admin, a_price_that_looks_like_a_slip_needs_force, |server| async move {
    let admin = Api::anonymous(&server).with_key(ADMIN);
    let slip = format!(
        "{BUILTIN_CATALOG_TOML}\n[[models]]\nid = \"acme-per-token\"\nprovider = \"openai\"\nkind = \"chat\"\n\
         status = \"current\"\nclass = \"acme\"\neffective_from = \"2025-01-01\"\nsource = \"test\"\n\
         standard = {{ input = \"0.0000025\", output = \"0.00001\" }}\n"
    );
    let refused = admin.post("/api/admin/catalog", json!({ "content": slip, "dry_run": true })).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .message()
            .contains("`acme-per-token` standard input: $0.0000025 per 1M tokens looks like a price per token"),
        "{}",
        refused.message()
    );
    let forced = admin.post("/api/admin/catalog", json!({ "content": slip, "dry_run": true, "force": true })).await;
    assert_eq!(forced.status, StatusCode::OK, "{}", forced.text);
    let broken = admin
        .post("/api/admin/catalog", json!({ "content": "schema = 1\nupdated = \"2030-01-01\"\nmodels = 3" }))
        .await;
    assert_eq!(broken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(broken.message().contains("not valid TOML for its schema"), "{}", broken.message());
});
