//! What every handler can reach.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use llmlab_core::Catalog;
use llmlab_store::Store;

use crate::budget::Budgets;
use crate::ingest::EventWriter;

/// Server settings that handlers need.
#[derive(Clone, Debug, Default)]
pub struct ServerSettings {
    /// Mark the session cookie `Secure` (set when served over HTTPS).
    pub secure_cookies: bool,
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
            settings,
        }))
    }
}

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}
