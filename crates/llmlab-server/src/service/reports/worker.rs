//! The periodic sync: every connection of every account, one after the other,
//! each `--report-sync-interval` (hourly by default). A sync is idempotent,
//! so replicas that each run it store the same rows.

use crate::state::AppState;

/// Starts the periodic sync; `None` when it is turned off.
#[must_use]
pub fn spawn(state: &AppState) -> Option<tokio::task::JoinHandle<()>> {
    let interval = state.settings.reports.sync_interval?;
    let state = state.clone();
    Some(tokio::spawn(async move {
        let mut every = tokio::time::interval(interval);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is at once: connections added since the last run were synced on connect.
        every.tick().await;
        loop {
            every.tick().await;
            sync_all(&state).await;
        }
    }))
}

/// Syncs every connection; a failure is recorded on its connection and logged.
pub async fn sync_all(state: &AppState) {
    let connections = match state.store.all_connections().await {
        Ok(connections) => connections,
        Err(error) => {
            tracing::warn!(%error, "provider reports: could not list the connections");
            return;
        }
    };
    for connection in &connections {
        if let Err(error) = super::sync_one(state, connection, None).await {
            tracing::warn!(error = %error.message, provider = %connection.provider, "provider reports: sync failed");
        }
    }
}
