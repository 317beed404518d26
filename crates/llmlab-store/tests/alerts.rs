//! Alerts in the store, on SQLite, PostgreSQL and behind PgBouncer: raised
//! in the events' own transaction once per budget, threshold and period
//! (and once per model without a price), one delivery per channel; claimed
//! under a lease that no two claimers share; their outcomes and the log.

use std::collections::BTreeSet;
use std::sync::Arc;

use llmlab_core::alert::{AlertFacts, BudgetRef};
use llmlab_core::budget::BudgetPeriod;
use llmlab_core::{Money, PriceSource, ServiceTier, TokenBuckets, UnpricedCode};
use llmlab_store::{DeliveryOutcome, EventBatch, EventPrice, NewBudget, NewChannel, NewEvent, Store, User};
use llmlab_test_support::{TestDb, both_backends};

mod common;

use common::open;

/// 2026-11-18T12:00:00Z.
const NOW: i64 = 1_795_521_600_000;
const USD: i64 = 1_000_000_000;
const LEASE: i64 = 60_000;

async fn user(store: &Store, name: &str) -> User {
    common::user_at(store, name, NOW).await
}

async fn channel(store: &Store, user: &User, kind: &str) -> i64 {
    let new = NewChannel {
        kind: kind.into(),
        name: None,
        target_hint: format!("https://{kind}.example/…"),
        target_sealed: format!("v1:test:{kind}"),
        secret_sealed: None,
    };
    store.add_channel(user.id, &new, NOW).await.unwrap().id
}

/// A $`amount` total budget of the account.
async fn total_budget(store: &Store, user: &User, amount: i64) {
    let new = NewBudget {
        scope: "account".into(),
        target: String::new(),
        period: "total".into(),
        amount_nusd: amount * USD,
        hard: false,
        thresholds: "80,100".into(),
    };
    store.save_budget(user.id, &new, &total_bounds(), NOW).await.unwrap();
}

fn total_bounds() -> llmlab_core::budget::PeriodBounds {
    BudgetPeriod::Total.bounds(jiff::Timestamp::from_millisecond(NOW).unwrap(), &jiff::tz::TimeZone::UTC).unwrap()
}

/// An event at [`NOW`] costing `cents`.
fn priced_event(id: &str, cents: i64) -> NewEvent {
    event(
        id,
        EventPrice::Priced {
            cost: Money::from_nanos(cents * USD / 100),
            source: PriceSource::Explicit,
            priced_as: None,
        },
        "gpt-4o",
    )
}

fn event(id: &str, price: EventPrice, model: &str) -> NewEvent {
    NewEvent {
        event_id: id.into(),
        project: "default".into(),
        provider: "openai".into(),
        model: model.into(),
        model_key: model.into(),
        occurred_at: NOW,
        tokens: TokenBuckets { input_tokens: 10, output_tokens: 10, ..TokenBuckets::default() },
        price,
        service_tier: ServiceTier::Standard,
        long_context: false,
        latency_ms: None,
        status: None,
        tags: None,
        raw_usage: None,
        api_key: None,
        reservation_id: None,
        notes: None,
    }
}

/// Stores one event costing `cents` (or unpriced, of `model`).
async fn spend(store: &Store, user: &User, id: &str, cents: Option<i64>, model: &str) {
    let event = match cents {
        Some(cents) => NewEvent { model: model.into(), model_key: model.into(), ..priced_event(id, cents) },
        None => event(
            id,
            EventPrice::Unpriced { code: UnpricedCode::UnknownModel, reason: "not in the catalog".into() },
            model,
        ),
    };
    store.insert_events(&[EventBatch { user_id: user.id, events: vec![event] }], NOW).await.unwrap();
}

/// The (kind, threshold) of the account's alerts, oldest first, and their deliveries' count.
async fn raised(store: &Store, user: &User) -> Vec<(String, String, usize)> {
    let mut log = store.alert_log(user.id, 100).await.unwrap();
    log.reverse();
    log.iter()
        .map(|(alert, deliveries)| {
            let detail = match &alert.facts {
                AlertFacts::BudgetThreshold { threshold, .. } => threshold.clone(),
                AlertFacts::UnpricedModel { model, .. } => model.clone(),
                other => other.kind().to_owned(),
            };
            (alert.facts.kind().to_owned(), detail, deliveries.len())
        })
        .collect()
}

fn threshold(label: &str) -> (String, String, usize) {
    ("budget_threshold".into(), label.into(), 2)
}

both_backends!(each_threshold_alerts_once_with_a_delivery_per_channel, |db| async move {
    let store = open(&db).await;
    let alice = user(&store, "alice").await;
    let bob = user(&store, "bob").await;
    channel(&store, &alice, "webhook").await;
    channel(&store, &alice, "slack").await;
    channel(&store, &bob, "discord").await;
    total_budget(&store, &alice, 10).await;
    spend(&store, &alice, "a", Some(500), "gpt-4o").await;
    assert!(raised(&store, &alice).await.is_empty());
    spend(&store, &alice, "b", Some(299), "gpt-4o").await; // 79.99%
    assert!(raised(&store, &alice).await.is_empty());
    spend(&store, &alice, "c", Some(1), "gpt-4o").await; // exactly 80%
    assert_eq!(raised(&store, &alice).await, [threshold("80")]);
    spend(&store, &alice, "d", Some(100), "gpt-4o").await;
    spend(&store, &alice, "e", Some(100), "gpt-4o").await; // exactly 100%
    spend(&store, &alice, "f", Some(100), "gpt-4o").await;
    assert_eq!(raised(&store, &alice).await, [threshold("80"), threshold("100")]);
    // A retried event changes nothing.
    spend(&store, &alice, "e", Some(100), "gpt-4o").await;
    assert_eq!(raised(&store, &alice).await.len(), 2);
    assert!(raised(&store, &bob).await.is_empty(), "alerts are the account's own");
});

both_backends!(a_new_budget_already_past_a_threshold_alerts_once, |db| async move {
    let store = open(&db).await;
    let alice = user(&store, "alice").await;
    channel(&store, &alice, "webhook").await;
    spend(&store, &alice, "a", Some(900), "gpt-4o").await;
    total_budget(&store, &alice, 10).await; // counts the $9 already spent
    assert_eq!(raised(&store, &alice).await, [("budget_threshold".into(), "80".into(), 1)]);
    // Counting again (what the server does after a change) raises nothing new.
    store.recount_budgets(alice.id, |_| Some(total_bounds())).await.unwrap();
    assert_eq!(raised(&store, &alice).await.len(), 1);
    // A larger amount is a new budget to cross, from the next event on.
    total_budget(&store, &alice, 11).await;
    assert_eq!(raised(&store, &alice).await.len(), 1);
    spend(&store, &alice, "b", Some(1), "gpt-4o").await;
    assert_eq!(raised(&store, &alice).await.len(), 2);
    // The same amount again does not alert twice.
    total_budget(&store, &alice, 11).await;
    spend(&store, &alice, "c", Some(1), "gpt-4o").await;
    assert_eq!(raised(&store, &alice).await.len(), 2);
});

both_backends!(a_new_budget_in_a_removed_ones_place_alerts_anew, |db| async move {
    let store = open(&db).await;
    let alice = user(&store, "alice").await;
    channel(&store, &alice, "webhook").await;
    total_budget(&store, &alice, 10).await;
    spend(&store, &alice, "a", Some(850), "gpt-4o").await;
    assert_eq!(raised(&store, &alice).await.len(), 1);
    let old = store.budgets(alice.id).await.unwrap().remove(0);
    assert!(store.delete_budget_by_id(alice.id, old.id).await.unwrap());
    // SQLite may give the new budget the removed one's id: it is still a new budget.
    let new = NewBudget {
        scope: "account".into(),
        target: String::new(),
        period: "total".into(),
        amount_nusd: 10 * USD,
        hard: false,
        thresholds: "80,100".into(),
    };
    store.save_budget(alice.id, &new, &total_bounds(), NOW + 1).await.unwrap();
    assert_eq!(raised(&store, &alice).await.len(), 2, "the new budget counts the $8.50 already spent and alerts");
});

both_backends!(a_day_on_course_to_run_out_forecasts_once, |db| async move {
    let store = open(&db).await;
    let alice = user(&store, "alice").await;
    channel(&store, &alice, "webhook").await;
    // The account's day is at its noon right now: a fixed-offset zone
    // (`Etc/GMT-N` is UTC+N) N hours ahead of UTC's current hour.
    let now = jiff::Timestamp::now();
    let hour = i64::from(now.to_zoned(jiff::tz::TimeZone::UTC).hour());
    let ahead = (12 - hour).rem_euclid(24);
    let ahead = if ahead > 14 { ahead - 24 } else { ahead };
    let zone = match ahead {
        0 => "Etc/GMT".to_owned(),
        n if n > 0 => format!("Etc/GMT-{n}"),
        n => format!("Etc/GMT+{}", -n),
    };
    let update = llmlab_store::AccountUpdate { name: None, timezone: Some(zone.clone()), hard_budget: None };
    let alice = store.update_user(alice.id, &update).await.unwrap();
    let tz = jiff::tz::TimeZone::get(&zone).unwrap();
    let bounds = BudgetPeriod::Day.bounds(now, &tz).unwrap();
    let new = NewBudget {
        scope: "account".into(),
        target: String::new(),
        period: "day".into(),
        amount_nusd: 10 * USD,
        hard: false,
        thresholds: "80,100".into(),
    };
    store.save_budget(alice.id, &new, &bounds, now.as_millisecond()).await.unwrap();
    let at_now = |id: &str, cents: i64| {
        let store = &store;
        let alice = &alice;
        let id = id.to_owned();
        async move { spend_at(store, alice, &id, cents, now.as_millisecond()).await }
    };
    // $3 by about noon: on course for about $6, under budget.
    at_now("a", 300).await;
    assert!(raised(&store, &alice).await.is_empty());
    // $6 by about noon: on course for about $12; it runs out before the day ends.
    at_now("b", 300).await;
    let log = store.alert_log(alice.id, 10).await.unwrap();
    assert_eq!(log.len(), 1, "{log:?}");
    let AlertFacts::BudgetForecast { over_at, period_key, .. } = &log[0].0.facts else { panic!("{log:?}") };
    assert_eq!(period_key, &bounds.key());
    assert!(bounds.contains(*over_at) && *over_at > now, "runs out later today: {over_at}");
    // More spend the same day: no second forecast.
    at_now("c", 100).await;
    assert_eq!(raised(&store, &alice).await, [("budget_forecast".into(), "budget_forecast".into(), 1)]);
});

/// [`spend`] at `at` (Unix ms) instead of the tests' fixed time.
async fn spend_at(store: &Store, user: &User, id: &str, cents: i64, at: i64) {
    let event = NewEvent { occurred_at: at, ..priced_event(id, cents) };
    store.insert_events(&[EventBatch { user_id: user.id, events: vec![event] }], at).await.unwrap();
}

both_backends!(a_model_without_a_price_alerts_once, |db| async move {
    let store = open(&db).await;
    let alice = user(&store, "alice").await;
    channel(&store, &alice, "webhook").await;
    spend(&store, &alice, "a", None, "gpt-9").await;
    spend(&store, &alice, "b", None, "gpt-9").await;
    spend(&store, &alice, "c", None, "gpt-10").await;
    // Another server (no memory of what this one raised) stores one more.
    let other = open(&db).await;
    spend(&other, &alice, "d", None, "gpt-9").await;
    assert_eq!(
        raised(&store, &alice).await,
        [("unpriced_model".into(), "gpt-9".into(), 1), ("unpriced_model".into(), "gpt-10".into(), 1)]
    );
});

fn hard_stop(budget_id: i64) -> AlertFacts {
    AlertFacts::HardStop {
        budget: BudgetRef {
            id: budget_id,
            scope: "account".into(),
            target: String::new(),
            period: "day".into(),
            hard: true,
            created_at: NOW,
        },
        period_key: "2026-11-18".into(),
        spent: Money::from_nanos(USD),
        held: Money::ZERO,
        amount: Money::from_nanos(USD),
    }
}

both_backends!(claims_are_leased_and_outcomes_recorded, |db| async move {
    let store = open(&db).await;
    let alice = user(&store, "alice").await;
    let webhook = channel(&store, &alice, "webhook").await;
    let slack = channel(&store, &alice, "slack").await;
    let raised = store.raise_alert(alice.id, &hard_stop(1), None, NOW).await.unwrap().unwrap();
    assert_eq!(raised.deliveries, 2);
    assert_eq!(
        store.raise_alert(alice.id, &hard_stop(1), None, NOW).await.unwrap(),
        None,
        "once per budget and period"
    );
    let test = store.raise_alert(alice.id, &AlertFacts::Test, Some(slack), NOW).await.unwrap().unwrap();
    assert_eq!(test.deliveries, 1, "a test goes to the channel asked for");

    let claimed = store.claim_deliveries(NOW, LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 3);
    assert!(claimed.iter().all(|c| c.attempts == 1 && c.channel.is_some()));
    assert!(store.claim_deliveries(NOW + 1, LEASE, 10).await.unwrap().is_empty(), "leased");
    let by_channel =
        |id: i64| claimed.iter().find(|c| c.channel.as_ref().unwrap().id == id && c.alert.id == raised.id).unwrap().id;
    store
        .finish_delivery(by_channel(webhook), &DeliveryOutcome::Delivered { status: Some(204) }, NOW + 10)
        .await
        .unwrap();
    let retry = DeliveryOutcome::Retry { status: Some(500), error: "HTTP 500".into(), next_attempt_at: NOW + 1000 };
    store.finish_delivery(by_channel(slack), &retry, NOW + 10).await.unwrap();
    // The test delivery's claimer died: its lease runs out and it is claimed again.
    let again = store.claim_deliveries(NOW + LEASE + 1, LEASE, 10).await.unwrap();
    let ids: BTreeSet<i64> = again.iter().map(|c| c.id).collect();
    assert_eq!(ids.len(), 2, "the retry is due and the lapsed claim too");
    assert!(again.iter().all(|c| c.attempts == 2));
    for delivery in &again {
        store
            .finish_delivery(
                delivery.id,
                &DeliveryOutcome::Failed { status: None, error: "gave up".into() },
                NOW + LEASE + 2,
            )
            .await
            .unwrap();
    }
    assert!(store.claim_deliveries(NOW + 10 * LEASE, LEASE, 10).await.unwrap().is_empty(), "nothing pending");
    let log = store.alert_log(alice.id, 10).await.unwrap();
    let stop = log.iter().find(|(a, _)| a.id == raised.id).unwrap();
    let states: BTreeSet<(String, i64, Option<i64>)> =
        stop.1.iter().map(|d| (d.state.clone(), d.attempts, d.last_status_code)).collect();
    assert_eq!(states, BTreeSet::from([("delivered".into(), 1, Some(204)), ("failed".into(), 2, None)]));
});

both_backends!(removing_a_channel_fails_what_it_had_pending, |db| async move {
    let store = open(&db).await;
    let alice = user(&store, "alice").await;
    let bob = user(&store, "bob").await;
    let webhook = channel(&store, &alice, "webhook").await;
    store.raise_alert(alice.id, &AlertFacts::Test, None, NOW).await.unwrap().unwrap();
    assert!(!store.remove_channel(bob.id, webhook, NOW).await.unwrap(), "not bob's to remove");
    assert!(store.remove_channel(alice.id, webhook, NOW).await.unwrap());
    assert!(!store.remove_channel(alice.id, webhook, NOW).await.unwrap());
    assert!(store.claim_deliveries(NOW, LEASE, 10).await.unwrap().is_empty());
    let log = store.alert_log(alice.id, 10).await.unwrap();
    let delivery = &log[0].1[0];
    assert_eq!((delivery.state.as_str(), delivery.channel_id), ("failed", None));
    assert_eq!(delivery.last_error.as_deref(), Some("the channel was removed"));
    assert!(store.channels(alice.id).await.unwrap().is_empty());
});

both_backends!(channels_can_be_sealed_again, |db| async move {
    let store = open(&db).await;
    let alice = user(&store, "alice").await;
    let id = channel(&store, &alice, "webhook").await;
    store.reseal_channel(id, "v1:new:target", Some("v1:new:secret")).await.unwrap();
    let all = store.all_channels().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].target_sealed.as_str(), all[0].secret_sealed.as_deref()),
        ("v1:new:target", Some("v1:new:secret"))
    );
});

async fn concurrent_claims_never_share_a_delivery(db: TestDb) {
    let store = Arc::new(open(&db).await);
    let alice = user(&store, "alice").await;
    for kind in ["webhook", "slack", "discord", "email"] {
        channel(&store, &alice, kind).await;
    }
    for budget in 0..10 {
        store.raise_alert(alice.id, &hard_stop(budget), None, NOW).await.unwrap().unwrap();
    }
    let claimers: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let claimed = store.claim_deliveries(NOW, LEASE, 3).await.unwrap();
                    if claimed.is_empty() {
                        return mine;
                    }
                    mine.extend(claimed.iter().map(|c| c.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.unwrap());
    }
    let distinct: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 40, "every delivery claimed");
    assert_eq!(distinct.len(), 40, "none claimed twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_never_share_a_delivery_on_sqlite() {
    concurrent_claims_never_share_a_delivery(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_never_share_a_delivery_on_postgres() {
    concurrent_claims_never_share_a_delivery(TestDb::postgres().await).await;
}
