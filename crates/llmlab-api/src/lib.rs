//! The REST API's wire types: what the server accepts and returns, and what
//! the CLI and tests send and read. Money is always a decimal string in a
//! field ending `_usd` (SPEC §11); times are RFC 3339 strings.

pub mod alerts;
pub mod auth;
pub mod budgets;
pub mod catalog;
pub mod costs;
pub mod error;
pub mod events;
pub mod limits;
pub mod prices;
pub mod projects;
pub mod recommendations;
pub mod reports;

pub use alerts::*;
pub use auth::*;
pub use budgets::*;
pub use catalog::*;
pub use costs::*;
pub use error::*;
pub use events::*;
pub use prices::*;
pub use projects::*;
pub use recommendations::*;
pub use reports::*;

/// `GET /health`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` when the server and its database answer.
    pub status: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    pub version: String,
}
