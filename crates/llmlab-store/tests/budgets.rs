//! Budgets in the store, on SQLite and PostgreSQL alike: what each scope
//! counts as events are stored, the count of a new budget from the events
//! already stored, and holds that are all-or-nothing, released by their
//! event or their expiry, and never overspend under concurrency.

use std::str::FromStr;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use llmlab_core::budget::{BudgetPeriod, PeriodBounds};
use llmlab_core::{Money, PriceSource, ServiceTier, TokenBuckets, UnpricedCode};
use llmlab_store::{BudgetRow, EventBatch, EventPrice, HoldOutcome, NewBudget, NewEvent, PeriodSpend, Store, User};
use llmlab_test_support::{TestDb, both_backends};

/// 2026-11-18T12:00:00Z, a Wednesday.
const NOW: i64 = 1_795_521_600_000;
const USD: i64 = 1_000_000_000;

mod common;

use common::open;

async fn user(store: &Store, name: &str) -> User {
    common::user_at(store, name, NOW).await
}

struct Call<'a> {
    id: &'a str,
    project: &'a str,
    key: &'a str,
    tags: Option<&'a str>,
    at: i64,
    cost: Option<i64>,
}

fn event(call: &Call<'_>) -> NewEvent {
    NewEvent {
        event_id: call.id.into(),
        project: call.project.into(),
        provider: "openai".into(),
        model: "gpt-4o".into(),
        model_key: "gpt-4o".into(),
        occurred_at: call.at,
        tokens: TokenBuckets { input_tokens: 100, output_tokens: 10, ..TokenBuckets::default() },
        price: match call.cost {
            Some(nanos) => EventPrice::Priced {
                cost: Money::from_nanos(nanos),
                source: PriceSource::Catalog,
                priced_as: Some("gpt-4o".into()),
            },
            None => EventPrice::Unpriced { code: UnpricedCode::UnknownModel, reason: "unknown".into() },
        },
        service_tier: ServiceTier::Standard,
        long_context: false,
        latency_ms: None,
        status: Some("ok".into()),
        tags: call.tags.map(str::to_owned),
        raw_usage: None,
        api_key: Some(call.key.into()),
        reservation_id: None,
        notes: None,
    }
}

fn bounds(period: BudgetPeriod, at: i64) -> PeriodBounds {
    period.bounds(Timestamp::from_millisecond(at).unwrap(), &TimeZone::UTC).unwrap()
}

async fn budget(store: &Store, user: &User, scope: &str, target: &str, period: BudgetPeriod, usd: i64) -> BudgetRow {
    let new = NewBudget {
        scope: scope.into(),
        target: target.into(),
        period: period.as_str().into(),
        amount_nusd: usd * USD,
        hard: true,
        thresholds: "80,100".into(),
    };
    store.save_budget(user.id, &new, &bounds(period, NOW), NOW).await.unwrap().0
}

async fn spend(store: &Store, user: &User, budget: &BudgetRow, at: i64) -> PeriodSpend {
    let period: BudgetPeriod = budget.period.parse().unwrap();
    let key = (budget.id, bounds(period, at).key());
    store.period_spend(user.id, std::slice::from_ref(&key)).await.unwrap().get(&key).copied().unwrap_or_default()
}

async fn store_events(store: &Store, user: &User, events: Vec<NewEvent>) {
    store.insert_events(&[EventBatch { user_id: user.id, events }], NOW).await.unwrap();
}

both_backends!(each_scope_counts_only_its_calls, |db| async move {
    let store = open(&db).await;
    let alice = user(&store, "alice").await;
    let bob = user(&store, "bob").await;
    // Stored before any budget: a new budget counts them.
    store_events(
        &store,
        &alice,
        vec![event(&Call {
            id: "e0",
            project: "search",
            key: "llm_alice",
            tags: None,
            at: NOW - 1000,
            cost: Some(USD),
        })],
    )
    .await;
    let account = budget(&store, &alice, "account", "", BudgetPeriod::Month, 100).await;
    let project = budget(&store, &alice, "project", "search", BudgetPeriod::Week, 100).await;
    let key = budget(&store, &alice, "key", "llm_alice2", BudgetPeriod::Day, 100).await;
    let tag = budget(&store, &alice, "tag", "customer=acme", BudgetPeriod::Total, 100).await;
    assert_eq!(spend(&store, &alice, &project, NOW).await.spent_nusd, USD);
    assert_eq!(spend(&store, &alice, &tag, NOW).await.spent_nusd, 0);

    let acme = Some(r#"{"customer":"acme","team":"x"}"#);
    let other = Some(r#"{"customer":"acme-2"}"#);
    let calls = [
        Call { id: "e1", project: "search", key: "llm_alice2", tags: acme, at: NOW, cost: Some(2 * USD) },
        Call { id: "e2", project: "chat", key: "llm_alice", tags: other, at: NOW, cost: Some(4 * USD) },
        Call { id: "e3", project: "chat", key: "llm_alice2", tags: None, at: NOW, cost: None },
        // The previous day and week (Monday 2026-11-16 starts this one): not in the day's or week's count.
        Call {
            id: "e4",
            project: "search",
            key: "llm_alice2",
            tags: acme,
            at: NOW - 3 * 86_400_000,
            cost: Some(8 * USD),
        },
    ];
    store_events(&store, &alice, calls.iter().map(event).collect()).await;
    // A retried event counts once; another account's events never count.
    store_events(&store, &alice, vec![event(&calls[0])]).await;
    store_events(&store, &bob, calls.iter().map(event).collect()).await;

    let figures = |s: PeriodSpend| (s.spent_nusd / USD, s.unpriced_calls);
    assert_eq!(figures(spend(&store, &alice, &account, NOW).await), (1 + 2 + 4 + 8, 1));
    assert_eq!(figures(spend(&store, &alice, &project, NOW).await), (1 + 2, 0));
    assert_eq!(figures(spend(&store, &alice, &key, NOW).await), (2, 1));
    assert_eq!(figures(spend(&store, &alice, &tag, NOW).await), (2 + 8, 0));
    // Bob's reads of Alice's budgets find nothing.
    assert_eq!(spend(&store, &bob, &account, NOW).await, PeriodSpend::default());

    // Changing the period counts the new one from the stored events.
    let week = store
        .update_budget(alice.id, key.id, None, None, None, Some(("week", &bounds(BudgetPeriod::Week, NOW))), NOW + 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(figures(spend(&store, &alice, &week, NOW).await), (2, 1));
    assert!(store.delete_budget_by_id(alice.id, week.id).await.unwrap());
    assert!(!store.delete_budget_by_id(bob.id, tag.id).await.unwrap());
    assert_eq!(store.budgets(alice.id).await.unwrap().len(), 3);
});

both_backends!(holds_are_all_or_nothing_and_released_once, |db| async move {
    let store = open(&db).await;
    let alice = user(&store, "alice").await;
    let account = budget(&store, &alice, "account", "", BudgetPeriod::Month, 10).await;
    let project = budget(&store, &alice, "project", "search", BudgetPeriod::Month, 5).await;
    let key_of = |b: &BudgetRow| (b.id, bounds(BudgetPeriod::Month, NOW).key());
    let both = [key_of(&account), key_of(&project)];

    assert_eq!(store.hold(alice.id, "rsv_1", &both, 3 * USD, NOW, NOW + 60_000).await.unwrap(), HoldOutcome::Held);
    // 3 + 3 > 5 on the project: refused, and nothing held on the account either.
    let refused = store.hold(alice.id, "rsv_2", &both, 3 * USD, NOW, NOW + 60_000).await.unwrap();
    let HoldOutcome::Refused { budget_id, spend } = refused else { panic!("{refused:?}") };
    assert_eq!((budget_id, spend.reserved_nusd), (project.id, 3 * USD));
    assert_eq!(self::spend(&store, &alice, &account, NOW).await.reserved_nusd, 3 * USD);

    // The call's event replaces the hold with its actual cost, in one transaction.
    let mut recorded =
        event(&Call { id: "e1", project: "search", key: "llm_alice", tags: None, at: NOW, cost: Some(USD) });
    recorded.reservation_id = Some("rsv_1".into());
    store_events(&store, &alice, vec![recorded.clone()]).await;
    let after = self::spend(&store, &alice, &project, NOW).await;
    assert_eq!((after.spent_nusd, after.reserved_nusd), (USD, 0));
    // A retry of the event releases nothing twice.
    store_events(&store, &alice, vec![recorded]).await;
    assert_eq!(self::spend(&store, &alice, &account, NOW).await.reserved_nusd, 0);

    // A hold whose event never comes lapses at its expiry, not before.
    assert_eq!(store.hold(alice.id, "rsv_3", &both, 4 * USD, NOW, NOW + 1_000).await.unwrap(), HoldOutcome::Held);
    assert_eq!(store.expire_holds(NOW + 999).await.unwrap(), 0);
    assert_eq!(store.expire_holds(NOW + 1_000).await.unwrap(), 2);
    assert_eq!(self::spend(&store, &alice, &project, NOW).await.reserved_nusd, 0);
    // Released explicitly, and only by its account.
    assert_eq!(store.hold(alice.id, "rsv_4", &both, 4 * USD, NOW, NOW + 1_000).await.unwrap(), HoldOutcome::Held);
    let bob = user(&store, "bob").await;
    assert!(!store.release_hold(bob.id, "rsv_4").await.unwrap());
    assert!(store.release_hold(alice.id, "rsv_4").await.unwrap());
    assert!(!store.release_hold(alice.id, "rsv_4").await.unwrap());
    assert_eq!(self::spend(&store, &alice, &account, NOW).await.reserved_nusd, 0);
    // Holding on another account's budget holds nothing.
    let stolen = store.hold(bob.id, "rsv_5", &both, USD, NOW, NOW + 1_000).await.unwrap();
    assert!(matches!(stolen, HoldOutcome::Refused { .. }), "{stolen:?}");
});

/// Two stores on one database (two servers' pools) hold concurrently.
/// Not run through PgBouncer: a second store's migration check there clashes
/// with the first store's prepared statements on the same server connection.
async fn concurrent_holds_never_overspend(db: TestDb) {
    let first = Arc::new(open(&db).await);
    let second = Arc::new(open(&db).await);
    let alice = user(&first, "alice").await;
    let account = budget(&first, &alice, "account", "", BudgetPeriod::Month, 10).await;
    let key = (account.id, bounds(BudgetPeriod::Month, NOW).key());
    let mut tasks = Vec::new();
    for i in 0..60 {
        let store = if i % 2 == 0 { first.clone() } else { second.clone() };
        let key = key.clone();
        let user = alice.id;
        tasks.push(tokio::spawn(async move {
            store.hold(user, &format!("rsv_{i}"), &[key], USD, NOW, NOW + 60_000).await.unwrap()
        }));
    }
    let mut held = 0;
    for task in tasks {
        if task.await.unwrap() == HoldOutcome::Held {
            held += 1;
        }
    }
    assert_eq!(held, 10);
    assert_eq!(spend(&first, &alice, &account, NOW).await.reserved_nusd, 10 * USD);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_holds_never_overspend_on_sqlite() {
    concurrent_holds_never_overspend(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_holds_never_overspend_on_postgres() {
    concurrent_holds_never_overspend(TestDb::postgres().await).await;
}

both_backends!(a_month_across_a_dst_change_counts_its_local_days_to_exactly_80_and_100_percent, |db| async move {
    use llmlab_core::budget::{BudgetState, Thresholds, percent_used};
    let store = open(&db).await;
    let alice = user(&store, "alice").await;
    let update = llmlab_store::AccountUpdate { timezone: Some("Europe/Paris".into()), ..Default::default() };
    store.update_user(alice.id, &update).await.unwrap();
    let month = budget(&store, &alice, "account", "", BudgetPeriod::Month, 10).await;
    // October 2026 in Paris: UTC+2 until the 25th, UTC+1 after; the month is 745 hours long.
    let ms = |at: &str| Timestamp::from_str(at).unwrap().as_millisecond();
    let call = |id: &'static str, at: i64, usd: i64| {
        event(&Call { id, project: "p", key: "llm_alice", tags: None, at, cost: Some(usd * USD / 100) })
    };
    store_events(
        &store,
        &alice,
        vec![
            call("sep", ms("2026-09-30T21:59:59.999Z"), 100), // 23:59:59.999 on 30 Sep in Paris
            call("first", ms("2026-09-30T22:00:00Z"), 800),   // 00:00 on 1 Oct in Paris: $8, 80%
            call("last", ms("2026-10-31T22:59:59.999Z"), 200), // 23:59:59.999 on 31 Oct (UTC+1): $10, 100%
            call("nov", ms("2026-10-31T23:00:00Z"), 500),     // 00:00 on 1 Nov in Paris
        ],
    )
    .await;
    let paris = TimeZone::get("Europe/Paris").unwrap();
    let october = BudgetPeriod::Month.bounds(Timestamp::from_str("2026-10-15T12:00:00Z").unwrap(), &paris).unwrap();
    assert_eq!(october.key(), "2026-10-01");
    assert_eq!(october.ms_range().end - october.ms_range().start, 745 * 3_600_000);
    let key = (month.id, october.key());
    let counted = store.period_spend(alice.id, std::slice::from_ref(&key)).await.unwrap()[&key];
    let (spent, amount) = (Money::from_nanos(counted.spent_nusd), Money::from_nanos(month.amount_nusd));
    assert_eq!(spent, Money::from_nanos(10 * USD));
    assert_eq!(percent_used(spent, amount).to_string(), "100");
    assert_eq!(Thresholds::default().state(spent, amount), BudgetState::Exceeded);
    let at_80 = Money::from_nanos(8 * USD);
    assert_eq!(
        (percent_used(at_80, amount).to_string(), Thresholds::default().state(at_80, amount)),
        ("80".to_owned(), BudgetState::Warning)
    );
    let november = (month.id, "2026-11-01".to_owned());
    assert_eq!(
        store.period_spend(alice.id, std::slice::from_ref(&november)).await.unwrap()[&november].spent_nusd,
        5 * USD
    );
    let september = (month.id, "2026-09-01".to_owned());
    assert_eq!(
        store.period_spend(alice.id, std::slice::from_ref(&september)).await.unwrap()[&september].spent_nusd,
        USD
    );
});

both_backends!(a_group_of_thousands_of_held_calls_releases_every_hold, |db| async move {
    let store = open(&db).await;
    let alice = user(&store, "alice").await;
    let account = budget(&store, &alice, "account", "", BudgetPeriod::Month, 1_000_000).await;
    let key = (account.id, bounds(BudgetPeriod::Month, NOW).key());
    let mut events = Vec::new();
    for i in 0..1_500 {
        let id = format!("rsv_{i}");
        assert_eq!(
            store.hold(alice.id, &id, std::slice::from_ref(&key), USD, NOW, NOW + 60_000).await.unwrap(),
            HoldOutcome::Held
        );
        let mut recorded =
            event(&Call { id: "", project: "p", key: "llm_alice", tags: None, at: NOW, cost: Some(USD / 2) });
        recorded.event_id = format!("e{i}");
        recorded.reservation_id = Some(id);
        events.push(recorded);
    }
    store_events(&store, &alice, events).await;
    let after = spend(&store, &alice, &account, NOW).await;
    assert_eq!((after.spent_nusd, after.reserved_nusd), (750 * USD, 0));
});
