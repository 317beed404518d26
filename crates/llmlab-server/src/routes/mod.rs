//! One module per resource; each exports its handlers, registered (with their
//! `OpenAPI` description) in [`crate::router`].

pub mod auth;
pub mod budgets;
pub mod costs;
pub mod events;
pub mod health;
pub mod prices;
pub mod projects;
pub mod recommendations;

/// Formats Unix ms as RFC 3339 (UTC).
pub(crate) fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}
