//! What one server remembers about alerts between requests: the hard stops
//! it already raised (so a refused call does not write an alert row each
//! time), and the accounts that spent since the last anomaly check.

use std::collections::HashSet;
use std::sync::Mutex;

/// See the module documentation.
#[derive(Default)]
pub struct AlertMemory {
    /// (account, budget, period key) whose hard-stop alert this server raised.
    hard_stops: Mutex<HashSet<(i64, i64, String)>>,
    /// Accounts with new events since the last anomaly check.
    spent: Mutex<HashSet<i64>>,
}

impl AlertMemory {
    /// Whether this is the first hard stop of the budget's period seen here (and remembers it).
    pub fn first_hard_stop(&self, user_id: i64, budget_id: i64, period_key: &str) -> bool {
        let mut seen = self.hard_stops.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.insert((user_id, budget_id, period_key.to_owned()))
    }

    /// Notes that the account stored events.
    pub fn spent(&self, user_id: i64) {
        self.spent.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(user_id);
    }

    /// The accounts that stored events since the last call.
    pub fn take_spenders(&self) -> Vec<i64> {
        self.spent.lock().unwrap_or_else(std::sync::PoisonError::into_inner).drain().collect()
    }
}
