//! Hard-budget holds kept in memory, for SQLite.
//!
//! A SQLite database has one writer at a time, and this process is it: the
//! group-commit writer holds the write lock for each commit, so a hold
//! written to the database would wait behind commits (0.48 ms added per
//! proxied call in the proxy benchmark, and a fifth of the throughput).
//! Holds therefore live here, in the process that owns the database, under
//! one mutex: all or none, like the database's conditional update on
//! PostgreSQL. A process that dies takes its holds with it, so nothing
//! outlives a killed server on SQLite.
//!
//! What each budget period has spent comes from the database: read once
//! when a period is first held on, then set from the totals every group
//! commit returns (`Store::insert_events_counted`), in commit order, since
//! one task commits on SQLite. A read that races a commit cannot go stale:
//! the commit's total always lands after it, and a read never overwrites a
//! total already set by a commit.

use std::collections::HashMap;
use std::sync::Mutex;

use llmlab_store::{HoldOutcome, PeriodSpend, SpentTotal, Store, StoreResult};

/// A budget and one of its periods.
type PeriodKey = (i64, String);

#[derive(Clone, Copy, Debug, Default)]
struct Period {
    /// Spent so far, once known (`None`: read it from the database).
    spent: Option<i64>,
    /// Held by calls in flight.
    reserved: i64,
}

#[derive(Clone, Debug)]
struct Hold {
    user_id: i64,
    periods: Vec<PeriodKey>,
    amount: i64,
    expires_at: i64,
}

#[derive(Default)]
struct Inner {
    periods: HashMap<PeriodKey, Period>,
    holds: HashMap<String, Hold>,
}

/// The in-memory holds of one SQLite server.
#[derive(Default)]
pub struct Ledger {
    inner: Mutex<Inner>,
}

/// One budget a call must fit in: its period and its amount.
pub struct Limit {
    pub budget_id: i64,
    pub period_key: String,
    pub amount_nusd: i64,
}

impl Ledger {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Holds `amount` on every budget of `limits` for the call `id`, or on
    /// none when one of them cannot cover it (that one is named).
    pub async fn hold(
        &self,
        store: &Store,
        user_id: i64,
        id: &str,
        limits: &[Limit],
        amount: i64,
        expires_at: i64,
    ) -> StoreResult<HoldOutcome> {
        self.load(store, user_id, limits).await?;
        Ok(self.hold_loaded(user_id, id, limits, amount, expires_at))
    }

    /// [`Ledger::hold`] once every period's spent total is known.
    fn hold_loaded(&self, user_id: i64, id: &str, limits: &[Limit], amount: i64, expires_at: i64) -> HoldOutcome {
        let mut inner = self.lock();
        for limit in limits {
            let period = inner.periods.get(&(limit.budget_id, limit.period_key.clone())).copied().unwrap_or_default();
            let spent = period.spent.unwrap_or(0);
            if spent.saturating_add(period.reserved).saturating_add(amount) > limit.amount_nusd {
                let spend = PeriodSpend { spent_nusd: spent, reserved_nusd: period.reserved, unpriced_calls: 0 };
                return HoldOutcome::Refused { budget_id: limit.budget_id, spend };
            }
        }
        let keys: Vec<PeriodKey> = limits.iter().map(|l| (l.budget_id, l.period_key.clone())).collect();
        for key in &keys {
            inner.periods.entry(key.clone()).or_default().reserved += amount;
        }
        inner.holds.insert(id.to_owned(), Hold { user_id, periods: keys, amount, expires_at });
        HoldOutcome::Held
    }

    /// Reads the spent totals of the periods not known yet.
    async fn load(&self, store: &Store, user_id: i64, limits: &[Limit]) -> StoreResult<()> {
        let missing: Vec<PeriodKey> = {
            let inner = self.lock();
            limits
                .iter()
                .map(|l| (l.budget_id, l.period_key.clone()))
                .filter(|key| inner.periods.get(key).is_none_or(|p| p.spent.is_none()))
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let read = store.period_spend(user_id, &missing).await?;
        let mut inner = self.lock();
        for key in missing {
            let spent = read.get(&key).map_or(0, |s| s.spent_nusd);
            let period = inner.periods.entry(key).or_default();
            // A commit that landed meanwhile set a total at least as new as this read.
            period.spent.get_or_insert(spent);
        }
        Ok(())
    }

    /// After a group commit: the new spent totals, and the holds of the
    /// calls whose events it stored ((account, reservation id)), released.
    pub fn committed(&self, totals: &[SpentTotal], released: &[(i64, &str)]) {
        if totals.is_empty() && released.is_empty() {
            return;
        }
        let mut inner = self.lock();
        for total in totals {
            let key = (total.budget_id, total.period_key.clone());
            // Only periods held on are kept; others are read when first needed.
            if let Some(period) = inner.periods.get_mut(&key) {
                period.spent = Some(total.spent_nusd);
            }
        }
        for (user_id, id) in released {
            release(&mut inner, *user_id, id);
        }
    }

    /// Releases a call's hold; `true` when it held anything.
    pub fn release(&self, user_id: i64, id: &str) -> bool {
        release(&mut self.lock(), user_id, id)
    }

    /// Releases the holds that expired by `now`; how many.
    pub fn expire(&self, now: i64) -> usize {
        let mut inner = self.lock();
        let due: Vec<(String, i64)> =
            inner.holds.iter().filter(|(_, h)| h.expires_at <= now).map(|(id, h)| (id.clone(), h.user_id)).collect();
        for (id, user_id) in &due {
            release(&mut inner, *user_id, id);
        }
        due.len()
    }

    /// What calls in flight hold on a budget's period.
    pub fn reserved(&self, budget_id: i64, period_key: &str) -> i64 {
        self.lock().periods.get(&(budget_id, period_key.to_owned())).map_or(0, |p| p.reserved)
    }

    /// Forgets the spent totals of these budgets (counted again from the
    /// events: their period, the account's time zone or prices changed);
    /// what calls in flight hold stays.
    pub fn forget_spent(&self, budget_ids: &[i64]) {
        let mut inner = self.lock();
        for (key, period) in &mut inner.periods {
            if budget_ids.contains(&key.0) {
                period.spent = None;
            }
        }
    }
}

fn release(inner: &mut Inner, user_id: i64, id: &str) -> bool {
    if inner.holds.get(id).is_none_or(|h| h.user_id != user_id) {
        return false;
    }
    let Some(hold) = inner.holds.remove(id) else { return false };
    for key in &hold.periods {
        if let Some(period) = inner.periods.get_mut(key) {
            period.reserved -= hold.amount;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger_with(spent: i64) -> Ledger {
        let ledger = Ledger::default();
        ledger.lock().periods.insert((1, "2026-12-01".into()), Period { spent: Some(spent), reserved: 0 });
        ledger.lock().periods.insert((2, "total".into()), Period { spent: Some(0), reserved: 0 });
        ledger
    }

    fn hold(ledger: &Ledger, id: &str, limits: &[(i64, &str, i64)], amount: i64, expires_at: i64) -> HoldOutcome {
        let limits: Vec<Limit> = limits
            .iter()
            .map(|(b, k, a)| Limit { budget_id: *b, period_key: (*k).to_owned(), amount_nusd: *a })
            .collect();
        ledger.hold_loaded(7, id, &limits, amount, expires_at)
    }

    #[test]
    fn holds_are_all_or_none_and_released_by_commit_or_expiry() {
        let ledger = ledger_with(60);
        let both = [(1, "2026-12-01", 100), (2, "total", 30)];
        assert_eq!(hold(&ledger, "a", &both, 25, 1_000), HoldOutcome::Held);
        // 60 + 25 + 25 > 100 on budget 1: nothing is held on budget 2 either.
        assert!(matches!(hold(&ledger, "b", &both, 25, 1_000), HoldOutcome::Refused { budget_id: 1, .. }));
        assert_eq!((ledger.reserved(1, "2026-12-01"), ledger.reserved(2, "total")), (25, 25));

        // The call's commit: actual cost 10 (spent 70) and the hold released, at once.
        ledger.committed(&[SpentTotal { budget_id: 1, period_key: "2026-12-01".into(), spent_nusd: 70 }], &[(7, "a")]);
        assert_eq!(
            (ledger.reserved(1, "2026-12-01"), ledger.lock().periods[&(1, "2026-12-01".into())].spent),
            (0, Some(70))
        );
        assert!(!ledger.release(7, "a"), "released once");

        assert_eq!(hold(&ledger, "c", &both, 5, 1_000), HoldOutcome::Held);
        assert!(!ledger.release(8, "c"), "only by its account");
        assert_eq!(ledger.expire(999), 0);
        assert_eq!(ledger.expire(1_000), 1);
        assert_eq!(ledger.reserved(2, "total"), 0);

        // A recount forgets the total; the hold in flight stays.
        assert_eq!(hold(&ledger, "d", &both, 5, 1_000), HoldOutcome::Held);
        ledger.forget_spent(&[1]);
        assert_eq!(ledger.lock().periods[&(1, "2026-12-01".into())].spent, None);
        assert_eq!(ledger.reserved(1, "2026-12-01"), 5);
    }
}
