//! The web dashboard: landing page, dashboard and settings, served from the binary.

use axum::Router;

use crate::state::AppState;

/// The page routes.
pub fn router() -> Router<AppState> {
    Router::new()
}
