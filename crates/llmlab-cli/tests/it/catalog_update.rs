//! A catalog update without a release (`llmlab prices update`): a call to a
//! model the catalog lacks is unpriced; once an update adds the model, the
//! call is priced at the new price and the totals move by exactly that
//! amount; the update survives a restart; an older catalog is refused.

use std::fmt::Write as _;
use std::path::Path;

use jiff::ToSpan as _;
use llmlab_core::Catalog;
use llmlab_core::catalog::BUILTIN_CATALOG_TOML;
use llmlab_test_support::{TestBackend, TestServer};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::api::{Api, BIN};
use crate::support::{llmlab, stderr, stdout};

const ADMIN_TOKEN: &str = "llmadm_catalog_update_test_token_0123456789";

async fn start(backend: TestBackend) -> TestServer {
    TestServer::start_with_env(Path::new(BIN), backend, &[("LLMLAB_ADMIN_TOKEN", ADMIN_TOKEN)]).await
}

/// The built-in catalog with `updated` moved by `days` and `extra` appended.
fn catalog_file(dir: &Path, name: &str, days: i64, extra: &str) -> String {
    let updated = Catalog::builtin().updated().checked_add(days.days()).unwrap();
    let mut text = String::new();
    for line in BUILTIN_CATALOG_TOML.lines() {
        if line.starts_with("updated = ") {
            let _ = writeln!(text, "updated = \"{updated}\"");
        } else {
            text.push_str(line);
            text.push('\n');
        }
    }
    text.push_str(extra);
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// `acme-gpt-9` at $3 per 1M input and $12 per 1M output tokens.
const ACME: &str = r#"
[[models]]
id = "acme-gpt-9"
provider = "openai"
kind = "chat"
status = "current"
class = "acme-gpt-9"
effective_from = "2025-01-01"
source = "the catalog update test"
standard = { input = "3", output = "12" }
"#;

fn usd(value: &Value) -> Decimal {
    value.as_str().unwrap_or_else(|| panic!("not a decimal string: {value}")).parse().unwrap()
}

fn update(server: &TestServer, args: &[&str]) -> std::process::Output {
    let mut all = vec!["prices", "update"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--server", &server.base_url, "--admin-token", ADMIN_TOKEN]);
    llmlab(&all)
}

llmlab_test_support::server_test_with!(
    start,
    an_update_prices_unpriced_calls_and_survives_a_restart,
    |server| async move {
        let api = Api::signup(&server, "alice").await;
        let dir = tempfile::tempdir().unwrap();
        // 1M input and 500k output tokens of a model the catalog lacks: unpriced.
        let call =
            json!({ "provider": "openai", "model": "acme-gpt-9", "input_tokens": 1_000_000, "output_tokens": 500_000 });
        let tracked = api.post("/api/events/track", call.clone()).await;
        assert_eq!(tracked.status, StatusCode::CREATED, "{}", tracked.text);
        let known = json!({ "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1000, "output_tokens": 100 });
        assert_eq!(api.post("/api/events/track", known).await.status, StatusCode::CREATED);
        let before = api.get("/api/costs/summary").await.body;
        assert_eq!(before["unpriced_calls"], 1, "{before}");

        // A dry run shows the model and changes nothing.
        let newer = catalog_file(dir.path(), "newer.toml", 1, ACME);
        let preview = update(&server, &[&newer, "--dry-run"]);
        assert!(preview.status.success(), "{}", stderr(&preview));
        let shown = stdout(&preview);
        assert!(
            shown.contains("+ acme-gpt-9 (openai): $3 input, $12 output per 1M tokens, from 2025-01-01"),
            "{shown}"
        );
        assert!(stderr(&preview).contains("dry run"), "{}", stderr(&preview));
        assert_eq!(api.get("/api/costs/summary").await.body["unpriced_calls"], 1);

        // Without the admin token: refused, saying what is needed.
        let anonymous = llmlab(&[
            "prices",
            "update",
            &newer,
            "--server",
            &server.base_url,
            "--admin-token",
            "llmadm_wrong_token_000000000000",
        ]);
        assert_eq!(anonymous.status.code(), Some(1));
        assert!(stderr(&anonymous).contains("admin token"), "{}", stderr(&anonymous));

        // Applied: the call is priced at $3 + 0.5 × $12 = $9, and every total moves by exactly that.
        let applied = update(&server, &[&newer]);
        assert!(applied.status.success(), "{}", stderr(&applied));
        assert!(stderr(&applied).contains("priced 1 earlier unpriced call"), "{}", stderr(&applied));
        let after = api.get("/api/costs/summary").await.body;
        let nine = Decimal::new(9, 0);
        assert_eq!(after["unpriced_calls"], 0, "{after}");
        for total in ["today_usd", "month_usd", "all_time_usd"] {
            assert_eq!(usd(&after[total]) - usd(&before[total]), nine, "{total}: {before} → {after}");
        }
        let acme = after["by_model"].as_array().unwrap().iter().find(|m| m["model"] == "acme-gpt-9").unwrap();
        assert_eq!((usd(&acme["cost_usd"]), acme["unpriced_calls"].as_u64()), (nine, Some(0)), "{acme}");

        // A restarted server prices with the stored update.
        assert!(server.signal("TERM").success());
        server.restart();
        let api = Api { base: server.base_url.clone(), ..api };
        let admin = Api::anonymous(&server).with_key(ADMIN_TOKEN);
        let info = admin.get("/api/admin/catalog").await;
        assert_eq!(info.status, StatusCode::OK, "{}", info.text);
        assert_eq!(info.body["origin"], "update");
        let expected = Catalog::builtin().updated().checked_add(1.days()).unwrap().to_string();
        assert_eq!(info.body["version"], expected.as_str());
        let again = api.post("/api/events/track", call).await;
        assert_eq!(usd(&again.body["cost_usd"]), nine, "{}", again.text);

        // An older catalog is refused, naming both dates; the one in force stays.
        let older = catalog_file(dir.path(), "older.toml", -1, ACME);
        let refused = update(&server, &[&older]);
        assert_eq!(refused.status.code(), Some(1));
        let message = stderr(&refused);
        let older_date = Catalog::builtin().updated().checked_sub(1.days()).unwrap().to_string();
        assert!(message.contains(&older_date) && message.contains(&expected), "{message}");
        assert_eq!(admin.get("/api/admin/catalog").await.body["version"], expected.as_str());
    }
);
