//! The storage story, run against SQLite and PostgreSQL alike: whatever the
//! backend, the same calls must give the same answers.

use futures::TryStreamExt;
use llmlab_core::{Money, PriceSource, ServiceTier, TokenBuckets, UnpricedCode};
use llmlab_store::{
    CustomPrice, EventBatch, EventPrice, InsertOutcome, NewApiKey, NewEvent, NewInvite, NewSession, NewUser, Repriced,
    SeriesStep, Store, StoreError, User, bucket_of,
};
use llmlab_test_support::both_backends;

const NOW: i64 = 1_795_000_000_000;

mod common;

use common::open;

async fn user(store: &Store, name: &str) -> User {
    common::user_at(store, name, NOW).await
}

fn event(id: &str, project: &str, model: &str, at: i64, cost: Option<i64>) -> NewEvent {
    NewEvent {
        event_id: id.into(),
        project: project.into(),
        provider: "openai".into(),
        model: model.into(),
        model_key: model.into(),
        occurred_at: at,
        tokens: TokenBuckets { input_tokens: 100, output_tokens: 10, cache_read_tokens: 5, ..TokenBuckets::default() },
        price: match cost {
            Some(nanos) => EventPrice::Priced {
                cost: Money::from_nanos(nanos),
                source: PriceSource::Catalog,
                priced_as: Some(model.into()),
            },
            None => EventPrice::Unpriced {
                code: UnpricedCode::UnknownModel,
                reason: format!("`{model}` is not in the price catalog"),
            },
        },
        service_tier: ServiceTier::Standard,
        long_context: false,
        latency_ms: Some(120),
        status: Some("ok".into()),
        tags: Some(r#"{"team":"search"}"#.into()),
        raw_usage: None,
        api_key: None,
        reservation_id: None,
        notes: None,
        partial_reason: None,
    }
}

both_backends!(accounts_and_keys, |db| async move {
    let store = open(&db).await;
    store.ping().await.unwrap();
    let alice = user(&store, "alice").await;
    let (key, owner) = store.find_key("llm_alice").await.unwrap().unwrap();
    assert_eq!(owner, alice);
    assert_eq!(key.secret_hash, "hash-alice");
    assert!(store.find_key("llm_nobody").await.unwrap().is_none());

    let second = NewApiKey {
        key_id: "llm_alice2".into(),
        secret_hash: "h2".into(),
        name: Some("ci".into()),
        created_at: NOW + 1,
    };
    store.create_key(alice.id, &second).await.unwrap();
    assert_eq!(store.list_keys(alice.id).await.unwrap().len(), 2);
    let revoked = store.revoke_key(alice.id, "llm_alice2", NOW + 2).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(NOW + 2));

    // A key of another account can neither be listed nor revoked.
    let bob = user(&store, "bob").await;
    assert!(matches!(store.revoke_key(bob.id, "llm_alice", NOW).await, Err(StoreError::NotFound)));
    assert_eq!(store.list_keys(bob.id).await.unwrap().len(), 1);

    let duplicate = store.create_key(bob.id, &second).await;
    assert!(matches!(duplicate, Err(StoreError::Conflict(_))));

    let updated = store
        .update_user(
            alice.id,
            &llmlab_store::AccountUpdate { timezone: Some("Europe/Paris".into()), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(updated.timezone, "Europe/Paris");
    assert_eq!(updated.name.as_deref(), Some("alice"));
    let projects = store.list_projects(alice.id).await.unwrap();
    assert_eq!(projects.len(), 1);
    assert_eq!(projects[0].name, "default");
});

both_backends!(partial_events_keep_their_reason_and_are_counted_in_every_rollup, |db| async move {
    let store = open(&db).await;
    let alice = user(&store, "alice").await;
    let reason = "the stream ended before `message_stop`: output counted up to the last `message_delta`";
    let cut = NewEvent { partial_reason: Some(reason.into()), ..event("p1", "default", "gpt-4o", NOW, Some(4_000)) };
    let batch = EventBatch {
        user_id: alice.id,
        events: vec![cut.clone(), event("p2", "default", "gpt-4o", NOW + 60_000, Some(1_000)), cut],
    };
    let outcomes = store.insert_events(&[batch], NOW).await.unwrap();
    assert_eq!(outcomes[0][2], InsertOutcome::Duplicate { cost: Some(Money::from_nanos(4_000)) });

    // All time, whole days and 15-minute edges: one of the two calls is a lower bound.
    let all_time = store.spend_all_time(alice.id, None).await.unwrap();
    let counted = |rows: &[llmlab_store::SpendRow]| {
        (rows.iter().map(|r| r.calls).sum::<u64>(), rows.iter().map(|r| r.partial_calls).sum::<u64>())
    };
    assert_eq!(counted(&all_time), (2, 1));
    assert_eq!(all_time.iter().map(|r| r.cost).sum::<Money>(), Money::from_nanos(5_000));
    let day = NOW - NOW.rem_euclid(86_400_000);
    assert_eq!(counted(&store.spend_between(alice.id, day, day + 86_400_000, None).await.unwrap()), (2, 1));
    let edge = store.spend_between(alice.id, bucket_of(NOW), bucket_of(NOW) + 15 * 60_000, None).await.unwrap();
    assert_eq!(counted(&edge), (2, 1));
    for step in [SeriesStep::Hour, SeriesStep::Quarter] {
        let series = store.spend_series(alice.id, 0, i64::MAX, None, step).await.unwrap();
        assert_eq!(series.iter().map(|b| b.partial_calls).sum::<u64>(), 1, "{step:?}");
    }

    let exported: Vec<_> = store.export_events(alice.id, 0, i64::MAX).try_collect().await.unwrap();
    let reasons: Vec<Option<&str>> = exported.iter().map(|e| e.partial_reason.as_deref()).collect();
    assert_eq!(reasons, [Some(reason), None]);
});

both_backends!(events_are_counted_once_with_rollups, |db| async move {
    let store = open(&db).await;
    let alice = user(&store, "alice").await;
    let bob = user(&store, "bob").await;
    let batch = EventBatch {
        user_id: alice.id,
        events: vec![
            event("e1", "default", "gpt-4o", NOW, Some(1_000)),
            event("e2", "search", "gpt-4o", NOW + 60_000, Some(2_500)),
            event("e3", "search", "acme-7b", NOW + 1_000_000, None),
            event("e1", "default", "gpt-4o", NOW, Some(1_000)),
        ],
    };
    let bob_batch = EventBatch { user_id: bob.id, events: vec![event("e1", "default", "gpt-4o", NOW, Some(7))] };
    let outcomes = store.insert_events(&[batch.clone(), bob_batch], NOW).await.unwrap();
    assert_eq!(outcomes[0][..3], [InsertOutcome::Inserted, InsertOutcome::Inserted, InsertOutcome::Inserted]);
    assert_eq!(outcomes[0][3], InsertOutcome::Duplicate { cost: Some(Money::from_nanos(1_000)) });
    assert_eq!(outcomes[1], [InsertOutcome::Inserted], "event ids are per account");

    // A retried batch is all duplicates and changes nothing.
    let again = store.insert_events(&[batch], NOW).await.unwrap();
    assert!(again[0].iter().all(|o| matches!(o, InsertOutcome::Duplicate { .. })));

    let all_time = store.spend_all_time(alice.id, None).await.unwrap();
    let total: Money = all_time.iter().map(|r| r.cost).sum();
    let calls: u64 = all_time.iter().map(|r| r.calls).sum();
    let unpriced: u64 = all_time.iter().map(|r| r.unpriced_calls).sum();
    assert_eq!((total, calls, unpriced), (Money::from_nanos(3_500), 3, 1));
    let window = store.spend_between(alice.id, bucket_of(NOW), NOW + 86_400_000, None).await.unwrap();
    assert_eq!(window.iter().map(|r| r.cost).sum::<Money>(), total);
    assert_eq!(window.iter().map(|r| r.tokens.input_tokens).sum::<u64>(), 300);
    let search_only = store.spend_between(alice.id, 0, i64::MAX, Some("search")).await.unwrap();
    assert_eq!(search_only.iter().map(|r| r.calls).sum::<u64>(), 2);
    let quarters = store.spend_series(alice.id, 0, i64::MAX, None, SeriesStep::Quarter).await.unwrap();
    assert_eq!(quarters.iter().map(|b| b.cost).sum::<Money>(), total);
    assert_eq!(quarters.len(), 2, "e1 and e2 share a 15-minute bucket");
    let hours = store.spend_series(alice.id, 0, i64::MAX, None, SeriesStep::Hour).await.unwrap();
    assert_eq!(hours.iter().map(|b| b.cost).sum::<Money>(), total);
    // A range that is not whole UTC days reads the edges from the 15-minute rollups.
    let edge = store.spend_between(alice.id, bucket_of(NOW), bucket_of(NOW) + 15 * 60_000, None).await.unwrap();
    assert_eq!(edge.iter().map(|r| r.calls).sum::<u64>(), 2, "e1 and e2 only");
    let day = NOW - NOW.rem_euclid(86_400_000);
    let whole_days = store.spend_between(alice.id, day - 86_400_000, day + 2 * 86_400_000, None).await.unwrap();
    assert_eq!(whole_days.iter().map(|r| r.cost).sum::<Money>(), total);

    // Bob sees only his own event.
    let bob_total: Money = store.spend_all_time(bob.id, None).await.unwrap().iter().map(|r| r.cost).sum();
    assert_eq!(bob_total, Money::from_nanos(7));

    let projects = store.list_projects(alice.id).await.unwrap();
    let names: Vec<&str> = projects.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["default", "search"]);
    assert_eq!(projects[1].calls, 2);

    let cause = store.unpriced_reason(alice.id, "openai", "acme-7b", "acme-7b").await.unwrap().unwrap();
    assert_eq!(cause.reason.as_deref(), Some("`acme-7b` is not in the price catalog"));
    assert_eq!(cause.code.as_deref(), Some("unknown_model"));
    assert_eq!(store.unpriced_reason(alice.id, "openai", "gpt-4o", "gpt-4o").await.unwrap(), None, "priced");
    assert_eq!(store.unpriced_reason(bob.id, "openai", "acme-7b", "acme-7b").await.unwrap(), None, "not bob's");

    let exported: Vec<_> = store.export_events(alice.id, 0, i64::MAX).try_collect().await.unwrap();
    let ids: Vec<&str> = exported.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["e1", "e2", "e3"]);
    assert_eq!(exported[1].project, "search");
    assert_eq!(exported[2].cost_nusd, None);
});

both_backends!(a_large_group_of_two_accounts_keeps_every_column, |db| async move {
    let store = open(&db).await;
    let alice = user(&store, "alice").await;
    let bob = user(&store, "bob").await;
    // More rows than one multi-row statement holds, every column distinct.
    let varied = |n: i64| {
        let mut e = event(
            &format!("e{n}"),
            ["default", "search", "chat"][usize::try_from(n % 3).unwrap()],
            "gpt-4o",
            NOW + n,
            None,
        );
        let n_u = u64::try_from(n).unwrap();
        e.tokens = TokenBuckets {
            input_tokens: n_u,
            cache_read_tokens: n_u + 1,
            cache_write_tokens: n_u + 2,
            cache_write_1h_tokens: n_u + 3,
            output_tokens: n_u + 4,
            reasoning_tokens: n_u + 5,
            input_audio_tokens: n_u + 6,
            cache_read_audio_tokens: n_u,
            output_audio_tokens: n_u + 7,
            web_search_requests: n_u % 2,
            web_fetch_requests: n_u % 3,
            file_search_calls: n_u % 4,
            container_sessions: n_u % 2,
            grounded_prompts: (n_u + 1) % 2,
        };
        if n % 4 != 0 {
            e.price =
                EventPrice::Priced { cost: Money::from_nanos(n * 10), source: PriceSource::Custom, priced_as: None };
        }
        e.service_tier = if n % 5 == 0 { ServiceTier::Batch } else { ServiceTier::Standard };
        e.long_context = n % 7 == 0;
        e.latency_ms = (n % 2 == 0).then_some(n);
        e.status = (n % 3 == 0).then(|| format!("status {n}"));
        e.tags = None;
        e.raw_usage = Some(format!(r#"{{"n":{n}}}"#));
        e
    };
    let alice_events: Vec<NewEvent> = (0..1_300).map(varied).collect();
    let mut bob_events: Vec<NewEvent> = (0..3).map(varied).collect();
    bob_events.push(varied(1)); // a repeat inside the group
    let groups = [
        EventBatch { user_id: alice.id, events: alice_events.clone() },
        EventBatch { user_id: bob.id, events: bob_events },
    ];
    let outcomes = store.insert_events(&groups, NOW).await.unwrap();
    assert!(outcomes[0].iter().all(|o| *o == InsertOutcome::Inserted));
    assert_eq!(outcomes[1][..3], [InsertOutcome::Inserted, InsertOutcome::Inserted, InsertOutcome::Inserted]);
    assert_eq!(outcomes[1][3], InsertOutcome::Duplicate { cost: Some(Money::from_nanos(10)) });

    let stored: Vec<_> = store.export_events(alice.id, 0, i64::MAX).try_collect().await.unwrap();
    assert_eq!(stored.len(), 1_300);
    for (event, row) in alice_events.iter().zip(&stored) {
        assert_eq!(
            (row.event_id.as_str(), row.project.as_str(), row.occurred_at),
            (event.event_id.as_str(), event.project.as_str(), event.occurred_at)
        );
        assert_eq!(row.tokens(), event.tokens, "{}", event.event_id);
        assert_eq!(row.cost_nusd, event.price.cost().map(Money::nanos));
        let (source, code) = match &event.price {
            EventPrice::Priced { source, .. } => (Some(source.as_str()), None),
            EventPrice::Unpriced { code, .. } => (None, Some(code.as_str())),
        };
        assert_eq!((row.cost_source.as_deref(), row.unpriced_code.as_deref()), (source, code));
        assert_eq!((row.service_tier.as_str(), row.long_context), (event.service_tier.as_str(), event.long_context));
        assert_eq!((row.latency_ms, &row.status, &row.tags), (event.latency_ms, &event.status, &event.tags));
    }
    let all_time = store.spend_all_time(alice.id, None).await.unwrap();
    let expected: i64 = alice_events.iter().filter_map(|e| e.price.cost()).map(Money::nanos).sum();
    assert_eq!(all_time.iter().map(|r| r.cost.nanos()).sum::<i64>(), expected);
    assert_eq!(all_time.iter().map(|r| r.calls).sum::<u64>(), 1_300);
    assert_eq!(all_time.iter().map(|r| r.unpriced_calls).sum::<u64>(), 325);
    let bob_calls: u64 = store.spend_all_time(bob.id, None).await.unwrap().iter().map(|r| r.calls).sum();
    assert_eq!(bob_calls, 3);
});

both_backends!(a_custom_price_reprices_unpriced_events_and_rollups, |db| async move {
    let store = open(&db).await;
    let alice = user(&store, "alice").await;
    let bob = user(&store, "bob").await;
    let events = vec![event("a", "default", "acme-7b", NOW, None), event("b", "default", "acme-7b", NOW + 5, None)];
    store.insert_events(&[EventBatch { user_id: alice.id, events: events.clone() }], NOW).await.unwrap();
    store.insert_events(&[EventBatch { user_id: bob.id, events }], NOW).await.unwrap();

    let price = CustomPrice {
        model_key: "acme-7b".into(),
        provider: None,
        input: "1".into(),
        output: "2".into(),
        cache_read: None,
        cache_write_5m: None,
        cache_write_1h: None,
        created_at: NOW,
        updated_at: NOW,
    };
    let reprice = |e: &llmlab_store::StoredEvent| {
        Some(Repriced {
            event: e.clone(),
            cost: Money::from_nanos(42),
            source: PriceSource::Custom,
            priced_as: "acme-7b".into(),
        })
    };
    let (stored, repriced) = store.set_custom_price(alice.id, &price, reprice, NOW).await.unwrap();
    assert_eq!(repriced, 2);
    assert_eq!(stored.input, "1");
    let alice_spend = store.spend_all_time(alice.id, None).await.unwrap();
    assert_eq!(alice_spend[0].cost, Money::from_nanos(84));
    assert_eq!(alice_spend[0].unpriced_calls, 0);
    for step in [SeriesStep::Quarter, SeriesStep::Hour] {
        let rolled: Money =
            store.spend_series(alice.id, 0, i64::MAX, None, step).await.unwrap().iter().map(|b| b.cost).sum();
        assert_eq!(rolled, Money::from_nanos(84), "{step:?}");
    }
    let day = NOW - NOW.rem_euclid(86_400_000);
    let daily: Money =
        store.spend_between(alice.id, day, day + 86_400_000, None).await.unwrap().iter().map(|r| r.cost).sum();
    assert_eq!(daily, Money::from_nanos(84), "the daily rollups are repriced too");
    // Bob's events of the same model stay unpriced.
    assert_eq!(store.spend_all_time(bob.id, None).await.unwrap()[0].unpriced_calls, 2);
    assert_eq!(store.custom_prices(alice.id).await.unwrap().len(), 1);
    assert!(store.custom_prices(bob.id).await.unwrap().is_empty());

    // Setting it again updates in place and finds nothing left to reprice.
    let (_, again) = store.set_custom_price(alice.id, &price, reprice, NOW + 1).await.unwrap();
    assert_eq!(again, 0);
    assert!(store.delete_custom_price(alice.id, "acme-7b").await.unwrap());
    assert!(!store.delete_custom_price(alice.id, "acme-7b").await.unwrap());
});

both_backends!(budgets_and_alerts_are_recorded_once, |db| async move {
    let store = open(&db).await;
    let alice = user(&store, "alice").await;
    assert!(store.budget(alice.id).await.unwrap().is_none());
    let month = |amount| llmlab_store::NewBudget {
        scope: "account".into(),
        target: String::new(),
        period: "month".into(),
        amount_nusd: amount,
        hard: false,
        thresholds: "80,100".into(),
    };
    let bounds = llmlab_core::budget::BudgetPeriod::Month
        .bounds(jiff::Timestamp::from_millisecond(NOW).unwrap(), &jiff::tz::TimeZone::UTC)
        .unwrap();
    let (_, created) = store.save_budget(alice.id, &month(500_000_000_000), &bounds, NOW).await.unwrap();
    let (updated, again) = store.save_budget(alice.id, &month(100_000_000_000), &bounds, NOW + 1).await.unwrap();
    assert!(created && !again);
    assert_eq!((updated.amount_nusd, updated.created_at, updated.updated_at), (100_000_000_000, NOW, NOW + 1));
    assert_eq!(store.budget(alice.id).await.unwrap(), Some(updated));
    assert!(store.record_budget_alert(alice.id, "2026-11-01", "warning", NOW).await.unwrap());
    assert!(!store.record_budget_alert(alice.id, "2026-11-01", "warning", NOW).await.unwrap());
    assert!(store.record_budget_alert(alice.id, "2026-12-01", "warning", NOW).await.unwrap());
    assert_eq!(store.budget_alerts(alice.id, "2026-11-01").await.unwrap(), ["warning"]);
});

fn session(id: &str, user: &User, key_id: &str, at: i64) -> NewSession {
    NewSession {
        public_id: format!("ses_{id}"),
        token_hash: format!("token-{id}"),
        user_id: user.id,
        key_id: key_id.into(),
        user_agent: Some("Firefox".into()),
        created_at: at,
        expires_at: at + 1_000,
    }
}

both_backends!(sessions_are_listed_ended_and_die_with_their_key, |db| async move {
    let store = open(&db).await;
    let alice = user(&store, "alice").await;
    let bob = user(&store, "bob").await;
    let second = NewApiKey { key_id: "llm_alice2".into(), secret_hash: "h2".into(), name: None, created_at: NOW };
    store.create_key(alice.id, &second).await.unwrap();
    for (id, key) in [("a1", "llm_alice"), ("a2", "llm_alice"), ("a3", "llm_alice2")] {
        store.create_session(&session(id, &alice, key, NOW)).await.unwrap();
    }
    store.create_session(&session("b1", &bob, "llm_bob", NOW)).await.unwrap();

    let found = store.find_session("token-a1").await.unwrap().unwrap();
    assert_eq!((found.public_id.as_str(), found.user_id, found.key_id.as_str()), ("ses_a1", alice.id, "llm_alice"));
    assert_eq!((found.last_seen_at, found.expires_at, found.revoked_at), (NOW, NOW + 1_000, None));
    assert!(store.find_session("token-none").await.unwrap().is_none());
    store.touch_session("ses_a1", NOW + 5).await.unwrap();
    assert_eq!(store.find_session("token-a1").await.unwrap().unwrap().last_seen_at, NOW + 5);
    assert_eq!(store.list_sessions(alice.id, NOW).await.unwrap().len(), 3);
    assert!(store.list_sessions(alice.id, NOW + 1_000).await.unwrap().is_empty(), "expired sessions are not listed");

    // Another account's session can neither be listed nor ended.
    assert!(matches!(store.revoke_session(bob.id, "ses_a1", NOW).await, Err(StoreError::NotFound)));
    assert_eq!(store.list_sessions(bob.id, NOW).await.unwrap().len(), 1);
    let ended = store.revoke_session(alice.id, "ses_a1", NOW + 1).await.unwrap();
    assert_eq!(ended.revoked_at, Some(NOW + 1));

    // Revoking a key ends the sessions opened with it, and only those.
    store.revoke_key(alice.id, "llm_alice2", NOW + 2).await.unwrap();
    assert_eq!(store.find_session("token-a3").await.unwrap().unwrap().revoked_at, Some(NOW + 2));
    let open: Vec<String> =
        store.list_sessions(alice.id, NOW).await.unwrap().into_iter().map(|s| s.public_id).collect();
    assert_eq!(open, ["ses_a2"]);

    assert_eq!(store.revoke_sessions(alice.id, NOW + 3).await.unwrap(), 1, "sign out everywhere");
    assert!(store.list_sessions(alice.id, NOW).await.unwrap().is_empty());
    assert_eq!(store.list_sessions(bob.id, NOW).await.unwrap().len(), 1, "other accounts keep theirs");

    // Ended sessions are purged; open ones stay.
    assert_eq!(store.purge_ended(NOW + 4).await.unwrap(), 3);
    assert!(store.find_session("token-a2").await.unwrap().is_none());
    assert!(store.find_session("token-b1").await.unwrap().is_some());
});

both_backends!(an_invite_creates_one_account_before_it_expires, |db| async move {
    let store = open(&db).await;
    let alice = user(&store, "alice").await;
    let invite = |hash: &str, expires_at| NewInvite {
        token_hash: hash.into(),
        created_by: Some(alice.id),
        created_at: NOW,
        expires_at,
    };
    store.create_invite(&invite("inv-1", NOW + 100)).await.unwrap();
    store.create_invite(&NewInvite { created_by: None, ..invite("inv-old", NOW + 10) }).await.unwrap();
    let new = |name: &str, at| {
        let key = NewApiKey { key_id: format!("llm_{name}"), secret_hash: name.into(), name: None, created_at: at };
        (NewUser { public_id: format!("usr_{name}"), name: None, created_at: at }, key)
    };

    let (carol, key) = new("carol", NOW + 1);
    let created = store.create_invited_user(&carol, &key, "inv-1").await.unwrap();
    assert_eq!(created.public_id, "usr_carol");
    let (dave, key) = new("dave", NOW + 2);
    assert!(matches!(store.create_invited_user(&dave, &key, "inv-1").await, Err(StoreError::NotFound)), "used");
    assert!(store.find_key("llm_dave").await.unwrap().is_none(), "a refused invite creates nothing");
    assert!(matches!(store.create_invited_user(&dave, &key, "inv-none").await, Err(StoreError::NotFound)));
    let (erin, key) = new("erin", NOW + 10);
    assert!(matches!(store.create_invited_user(&erin, &key, "inv-old").await, Err(StoreError::NotFound)), "expired");
    let (erin, key) = new("erin", NOW + 9);
    store.create_invited_user(&erin, &key, "inv-old").await.unwrap();
});

both_backends!(the_admin_token_is_stored_once, |db| async move {
    let store = open(&db).await;
    assert_eq!(store.admin_token_hash().await.unwrap(), None);
    assert!(store.init_admin_token("first", NOW).await.unwrap());
    assert!(!store.init_admin_token("second", NOW).await.unwrap(), "a second replica keeps the first token");
    assert_eq!(store.admin_token_hash().await.unwrap().as_deref(), Some("first"));
});
