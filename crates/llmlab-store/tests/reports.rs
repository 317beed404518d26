//! Provider report rows in the store, on SQLite, PostgreSQL and behind
//! PgBouncer: a page upserted on the report's keys (re-storing adds
//! nothing), a re-reported day replacing its rows, the resume point, an
//! older concurrent sync never overwriting a newer one's rows, and every
//! read scoped to its account.

use llmlab_core::{Money, PriceSource, ServiceTier, TokenBuckets};
use llmlab_store::{EventBatch, EventPrice, NewEvent, NewReportedCost, NewReportedUsage, ReportPage, Store, User};
use llmlab_test_support::both_backends;

mod common;

use common::open;

/// 2026-11-18T00:00:00Z.
const DAY: i64 = 1_795_478_400_000;
const DAY_MS: i64 = 86_400_000;

fn usage(day: i64, model: &str, input: u64, cost: &str) -> NewReportedUsage {
    NewReportedUsage {
        day,
        bucket_key: format!("{model}|proj_a||standard|"),
        model: model.to_owned(),
        priced_as: Some(model.to_owned()),
        project: Some("proj_a".to_owned()),
        api_key_id: None,
        service_tier: "standard".to_owned(),
        context_window: None,
        requests: Some(1),
        tokens: TokenBuckets { input_tokens: input, ..TokenBuckets::default() },
        cost: Some(cost.parse().unwrap()),
        unpriced_reason: None,
    }
}

fn page<'a>(
    user: &User,
    rows: &'a [NewReportedUsage],
    sync_id: i64,
    complete_before: i64,
) -> ReportPage<'a, NewReportedUsage> {
    ReportPage { user_id: user.id, provider: "openai", sync_id, rows, from_day: DAY, complete_before }
}

async fn priced(store: &Store, user: &User) -> Money {
    store.reported_usage_days(user.id, DAY, DAY + 10 * DAY_MS).await.unwrap().iter().map(|r| r.cost).sum()
}

both_backends!(report_pages_replace_never_add_and_record_where_to_resume, |db| async move {
    let store = open(&db).await;
    let alice = common::user_at(&store, "alice", DAY).await;
    let bob = common::user_at(&store, "bob", DAY).await;
    store.save_connection(alice.id, "openai", "sk-admin-…0000", "v1:x:y", 30, DAY).await.unwrap();
    let two_days = [
        usage(DAY, "gpt-4o", 1000, "1"),
        usage(DAY + DAY_MS, "gpt-4o", 2000, "2"),
        usage(DAY + DAY_MS, "gpt-4.1", 10, "0.5"),
    ];
    store.store_usage_page(&page(&alice, &two_days, 1, DAY + 2 * DAY_MS)).await.unwrap();
    store.store_usage_page(&page(&alice, &two_days, 2, DAY + 2 * DAY_MS)).await.unwrap();
    assert_eq!(priced(&store, &alice).await, "3.5".parse().unwrap(), "stored twice, counted once");
    assert_eq!(priced(&store, &bob).await, Money::ZERO, "another account sees nothing");

    // Day 2 re-reported without gpt-4.1 and with more gpt-4o: it replaces the day.
    let again = [usage(DAY + DAY_MS, "gpt-4o", 3000, "3")];
    store.store_usage_page(&page(&alice, &again, 3, DAY + 2 * DAY_MS)).await.unwrap();
    // Day 1 was in the range and not written again: the newer report has nothing that day.
    assert_eq!(priced(&store, &alice).await, "3".parse().unwrap());
    let connection = &store.connections(alice.id).await.unwrap()[0];
    assert_eq!(connection.usage_next_day, Some(DAY + 2 * DAY_MS));

    // An older sync finishing late never overwrites the newer one's rows, nor deletes them.
    let stale = [usage(DAY + DAY_MS, "gpt-4o", 1, "0.001")];
    store.store_usage_page(&page(&alice, &stale, 2, DAY + 2 * DAY_MS)).await.unwrap();
    assert_eq!(priced(&store, &alice).await, "3".parse().unwrap());

    let cost = NewReportedCost {
        day: DAY,
        bucket_key: "gpt-4o, input|gpt-4o|proj_a|".to_owned(),
        line_item: Some("gpt-4o, input".to_owned()),
        model: Some("gpt-4o".to_owned()),
        priced_as: Some("gpt-4o".to_owned()),
        project: Some("proj_a".to_owned()),
        amount_text: "0.15000000000000002".to_owned(),
        amount_usd: "0.15000000000000002".to_owned(),
        amount: "0.15".parse().unwrap(),
        currency: "usd".to_owned(),
    };
    let costs = [cost.clone(), cost];
    let cost_page = ReportPage {
        user_id: alice.id,
        provider: "openai",
        sync_id: 4,
        rows: &costs[..1],
        from_day: DAY,
        complete_before: DAY + DAY_MS,
    };
    store.store_cost_page(&cost_page).await.unwrap();
    store.store_cost_page(&ReportPage { rows: &costs[1..], sync_id: 5, ..cost_page }).await.unwrap();
    let billed = store.billed_days(alice.id, DAY, DAY + DAY_MS).await.unwrap();
    assert_eq!(billed.len(), 1);
    assert_eq!(billed[0].amount, "0.15".parse().unwrap());

    assert!(store.remove_connection(alice.id, "openai").await.unwrap());
    assert_eq!(priced(&store, &alice).await, Money::ZERO, "removing a connection removes its rows");
    assert!(!store.remove_connection(alice.id, "openai").await.unwrap());
});

both_backends!(a_connection_keeps_its_sync_state_and_reads_group_by_model_and_day, |db| async move {
    let store = open(&db).await;
    let alice = common::user_at(&store, "alice", DAY).await;
    let bob = common::user_at(&store, "bob", DAY).await;
    store.save_connection(alice.id, "openai", "sk-admin-…0000", "v1:a:sealed", 30, DAY).await.unwrap();
    store.save_connection(bob.id, "anthropic", "sk-ant-admin…1111", "v1:a:other", 7, DAY).await.unwrap();
    assert_eq!(store.all_connections().await.unwrap().len(), 2, "the hourly sync sees every account's");

    // A rotated server key reseals; a failed sync keeps its error until a good one clears it.
    store.reseal_connection(alice.id, "openai", "v1:b:resealed").await.unwrap();
    store.set_connection_error(alice.id, "openai", Some("the OpenAI admin key was refused (401)")).await.unwrap();
    let failed = &store.connections(alice.id).await.unwrap()[0];
    assert_eq!(failed.key_sealed, "v1:b:resealed");
    assert_eq!(failed.last_error.as_deref(), Some("the OpenAI admin key was refused (401)"));
    store.finish_sync(alice.id, "openai", DAY + 5, None).await.unwrap();
    let synced = &store.connections(alice.id).await.unwrap()[0];
    assert_eq!((synced.last_sync_at, synced.last_error.as_deref()), (Some(DAY + 5), None));
    assert_eq!(store.connections(bob.id).await.unwrap()[0].key_sealed, "v1:a:other", "bob's is untouched");

    // Reported usage per model: priced rows with requests only, batch requests apart.
    let mut batch = usage(DAY + DAY_MS, "gpt-4o", 500, "0.5");
    batch.bucket_key = "gpt-4o|proj_a||batch|".to_owned();
    batch.service_tier = "batch".to_owned();
    batch.requests = Some(4);
    let mut unpriced = usage(DAY, "mystery-1", 10, "0");
    unpriced.cost = None;
    unpriced.unpriced_reason = Some("not in the catalog".to_owned());
    let rows = [usage(DAY, "gpt-4o", 1000, "1"), batch, unpriced];
    store.store_usage_page(&page(&alice, &rows, 1, DAY + 2 * DAY_MS)).await.unwrap();
    let models = store.reported_usage_models(alice.id, DAY, DAY + 2 * DAY_MS).await.unwrap();
    assert_eq!(models.len(), 1, "the unpriced model is left out of the tips");
    let gpt = &models[0];
    assert_eq!((gpt.provider.as_str(), gpt.model.as_str()), ("openai", "gpt-4o"));
    assert_eq!((gpt.requests, gpt.batch_requests, gpt.tokens.input_tokens), (5, 4, 1500));
    assert_eq!(gpt.cost, "1.5".parse().unwrap());
    assert!(store.reported_usage_models(bob.id, DAY, DAY + 2 * DAY_MS).await.unwrap().is_empty());

    // Tracked spend per day and model, from the rollups, for reconciliation.
    let tracked = NewEvent {
        event_id: "evt-1".into(),
        project: "default".into(),
        provider: "openai".into(),
        model: "gpt-4o".into(),
        model_key: "gpt-4o".into(),
        occurred_at: DAY + 3_600_000,
        tokens: TokenBuckets { input_tokens: 100, output_tokens: 10, ..TokenBuckets::default() },
        price: EventPrice::Priced { cost: "0.25".parse().unwrap(), source: PriceSource::Explicit, priced_as: None },
        service_tier: ServiceTier::Standard,
        long_context: false,
        latency_ms: None,
        status: None,
        tags: None,
        raw_usage: None,
        api_key: None,
        reservation_id: None,
        notes: None,
        partial_reason: None,
    };
    store.insert_events(&[EventBatch { user_id: alice.id, events: vec![tracked] }], DAY + 3_600_000).await.unwrap();
    let days = store.tracked_days(alice.id, DAY, DAY + 2 * DAY_MS).await.unwrap();
    assert_eq!(days.len(), 1, "{days:?}");
    assert_eq!((days[0].day, days[0].model.as_str(), days[0].calls), (DAY, "gpt-4o", 1));
    assert_eq!((days[0].cost, days[0].tokens.input_tokens), ("0.25".parse().unwrap(), 100));
    assert!(store.tracked_days(bob.id, DAY, DAY + 2 * DAY_MS).await.unwrap().is_empty());
});
