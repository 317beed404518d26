//! A small time-bounded cache for lookups every request makes (the API key's
//! row, the account's custom prices). Entries live [`CACHE_TTL`]; the server
//! that changes the data removes them at once, and other replicas see the
//! change within the TTL.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a cached lookup is trusted.
pub const CACHE_TTL: Duration = Duration::from_secs(2);
/// Past this many entries, stale ones are dropped on insert.
const SWEEP_ABOVE: usize = 10_000;

/// A map whose entries expire.
pub struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> Default for TtlCache<K, V> {
    fn default() -> Self {
        TtlCache { entries: Mutex::new(HashMap::new()) }
    }
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    /// The value, if cached less than [`CACHE_TTL`] ago.
    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().expect("cache lock");
        entries.get(key).filter(|(at, _)| at.elapsed() < CACHE_TTL).map(|(_, v)| v.clone())
    }

    pub fn insert(&self, key: K, value: V) {
        let mut entries = self.entries.lock().expect("cache lock");
        if entries.len() > SWEEP_ABOVE {
            entries.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
        }
        entries.insert(key, (Instant::now(), value));
    }

    /// Drops the entries `keep` rejects.
    pub fn retain(&self, keep: impl Fn(&K, &V) -> bool) {
        self.entries.lock().expect("cache lock").retain(|k, (_, v)| keep(k, v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_can_be_dropped_by_predicate() {
        let cache: TtlCache<&str, i32> = TtlCache::default();
        cache.insert("a", 1);
        cache.insert("b", 2);
        assert_eq!(cache.get(&"a"), Some(1));
        cache.retain(|_, v| *v != 1);
        assert_eq!(cache.get(&"a"), None);
        assert_eq!(cache.get(&"b"), Some(2));
    }
}
