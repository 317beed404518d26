//! A small time-bounded cache for lookups every request makes (the API key's
//! row, the account's custom prices). The server that changes the data
//! removes the entries at once; other replicas see the change when their
//! entry expires, after the cache's time to live.
//!
//! The server's caches (these, the budget months, the render cache) take a
//! poisoned lock as it is: a panic in one request must not turn every later
//! request into an empty reply, and a cache entry is at worst stale until
//! it expires.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a replica trusts a cached API key row and its account: a key
/// revoked (or a setting changed) on one replica is refused (applied) by
/// every other replica at most this long after. docs/proxy.md and
/// docs/deployment.md state this figure.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(1);
/// How long a replica trusts an account's cached custom prices.
pub const PRICE_CACHE_TTL: Duration = Duration::from_secs(2);
/// Past this many entries, stale ones are dropped on insert.
const SWEEP_ABOVE: usize = 10_000;

/// A map whose entries expire after a fixed time to live.
pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    /// An empty cache whose entries live `ttl`.
    #[must_use]
    pub fn new(ttl: Duration) -> Self {
        TtlCache { ttl, entries: Mutex::new(HashMap::new()) }
    }

    /// The value, if cached less than the time to live ago.
    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.get(key).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, v)| v.clone())
    }

    pub fn insert(&self, key: K, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() > SWEEP_ABOVE {
            entries.retain(|_, (at, _)| at.elapsed() < self.ttl);
        }
        entries.insert(key, (Instant::now(), value));
    }

    /// Drops the entries `keep` rejects.
    pub fn retain(&self, keep: impl Fn(&K, &V) -> bool) {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|k, (_, v)| keep(k, v));
    }
}

/// Rendered dashboard panels per account, reused while the account's
/// version (`ETag`) is unchanged: a reload, a second tab or a second poller
/// costs only the version check. Lives in the server's state, so each
/// server (and each test's server) has its own.
#[derive(Default)]
pub struct PageCache(Mutex<HashMap<i64, Page>>);

/// One account's rendered panels.
#[derive(Clone)]
pub struct Page {
    pub etag: String,
    pub base_url: String,
    pub html: Arc<str>,
}

/// Most accounts whose panels are kept; past it the cache starts over.
const CACHED_PAGES: usize = 256;

impl PageCache {
    /// The account's panels, if rendered for this version and base URL.
    pub fn get(&self, user_id: i64, etag: &str, base_url: &str) -> Option<Arc<str>> {
        let pages = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        pages.get(&user_id).filter(|p| p.etag == etag && p.base_url == base_url).map(|p| p.html.clone())
    }

    pub fn put(&self, user_id: i64, page: Page) {
        let mut pages = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if pages.len() >= CACHED_PAGES && !pages.contains_key(&user_id) {
            pages.clear();
        }
        pages.insert(user_id, page);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_can_be_dropped_by_predicate() {
        let cache: TtlCache<&str, i32> = TtlCache::new(Duration::from_mins(1));
        cache.insert("a", 1);
        cache.insert("b", 2);
        assert_eq!(cache.get(&"a"), Some(1));
        cache.retain(|_, v| *v != 1);
        assert_eq!(cache.get(&"a"), None);
        assert_eq!(cache.get(&"b"), Some(2));
    }

    #[test]
    fn entries_expire_after_their_time_to_live() {
        let cache: TtlCache<&str, i32> = TtlCache::new(Duration::ZERO);
        cache.insert("a", 1);
        assert_eq!(cache.get(&"a"), None);
    }

    /// The docs promise what the code does.
    #[test]
    fn the_docs_state_the_key_cache_time_to_live() {
        assert_eq!(KEY_CACHE_TTL, Duration::from_secs(1), "update docs/proxy.md and docs/deployment.md too");
        for (doc, text) in [
            ("docs/proxy.md", include_str!("../../../docs/proxy.md")),
            ("docs/deployment.md", include_str!("../../../docs/deployment.md")),
        ] {
            assert!(text.contains("within 1 second"), "{doc} must say a revoked key is refused within 1 second");
        }
    }
}
