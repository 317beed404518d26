//! One module per resource; each exports its handlers, registered (with their
//! `OpenAPI` description) in [`crate::router`].

pub mod alerts;
pub mod auth;
pub mod budgets;
pub mod catalog;
pub mod connections;
pub mod costs;
pub mod events;
pub mod health;
pub mod otlp;
pub mod prices;
pub mod projects;
pub mod recommendations;
pub mod reconciliation;
