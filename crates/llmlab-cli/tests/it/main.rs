//! Integration tests: the real `llmlab` binary, run as a user would. The
//! HTTP API itself is tested in-process in the server crate
//! (`crates/llmlab-server/tests/api/`).

mod alert_delivery;
mod api;
mod catalog_update;
mod cli_alerts;
mod cli_budget;
mod cli_config;
mod cli_env;
mod cli_errors;
mod cli_export;
mod cli_init;
mod cli_misc;
mod cli_optimize;
mod cli_reports;
mod cli_status;
mod cost_command;
mod hard_budgets;
mod import_agents;
mod prices_command;
mod recorded;
mod server_crash;
mod server_log;
mod server_outage;
mod server_public;
mod server_replicas;
mod support;
