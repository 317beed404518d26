//! What every handler can reach.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use llmlab_core::Catalog;
use llmlab_store::Store;

use crate::budget::Budgets;
use crate::cache::{KEY_CACHE_TTL, PRICE_CACHE_TTL, TtlCache};
use crate::error::ApiResult;
use crate::ingest::{CustomPrices, EventWriter};

/// Server settings that handlers need.
#[derive(Clone, Debug, Default)]
pub struct ServerSettings {
    /// Mark the session cookie `Secure` (set when served over HTTPS).
    pub secure_cookies: bool,
    /// Where the LLM proxy forwards calls, and how.
    pub proxy: crate::proxy::ProxySettings,
}

/// The shared state behind every request; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub store: Arc<Store>,
    pub catalog: &'static Catalog,
    pub writer: EventWriter,
    pub budgets: Budgets,
    pub key_touches: Mutex<HashMap<String, Instant>>,
    /// key id → (key row, account), so a request does not read both each time.
    pub keys: TtlCache<String, (llmlab_store::ApiKey, llmlab_store::User)>,
    /// account → its custom prices as rate cards.
    pub prices: TtlCache<i64, Arc<CustomPrices>>,
    pub settings: ServerSettings,
}

impl AppState {
    #[must_use]
    pub fn new(store: Arc<Store>, writer: EventWriter, settings: ServerSettings) -> Self {
        AppState(Arc::new(Shared {
            store,
            catalog: Catalog::builtin(),
            writer,
            budgets: Budgets::default(),
            key_touches: Mutex::new(HashMap::new()),
            keys: TtlCache::new(KEY_CACHE_TTL),
            prices: TtlCache::new(PRICE_CACHE_TTL),
            settings,
        }))
    }
}

impl AppState {
    /// The account's custom prices, cached briefly.
    pub async fn custom_prices(&self, user_id: i64) -> ApiResult<Arc<CustomPrices>> {
        if let Some(prices) = self.prices.get(&user_id) {
            return Ok(prices);
        }
        let prices = Arc::new(CustomPrices::new(&self.store.custom_prices(user_id).await?));
        self.prices.insert(user_id, prices.clone());
        Ok(prices)
    }

    /// Forgets what is cached about an account (after it changed).
    pub fn forget_account(&self, user_id: i64) {
        self.keys.retain(|_, (_, user)| user.id != user_id);
        self.prices.retain(|id, _| *id != user_id);
        self.budgets.invalidate(user_id);
    }
}

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}
