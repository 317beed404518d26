//! Provider report rows in the store, on SQLite, PostgreSQL and behind
//! PgBouncer: a page upserted on the report's keys (re-storing adds
//! nothing), a re-reported day replacing its rows, the resume point, an
//! older concurrent sync never overwriting a newer one's rows, and every
//! read scoped to its account.

use llmlab_core::{Money, TokenBuckets};
use llmlab_store::{NewReportedCost, NewReportedUsage, ReportPage, Store, User};
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
