//! The LLM proxy: `/proxy/{openai,anthropic,gemini}/…` forwarded upstream,
//! with each call's usage recorded.

use axum::Router;

use crate::state::AppState;

/// The proxy routes.
pub fn router() -> Router<AppState> {
    Router::new()
}
