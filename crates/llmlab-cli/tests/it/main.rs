//! Integration tests: the real `llmlab` binary, run as a user would.

mod api;
mod cli_budget;
mod cli_config;
mod cli_env;
mod cli_export;
mod cli_init;
mod cli_misc;
mod cli_optimize;
mod cli_status;
mod cost_command;
mod prices_command;
mod server_accounts;
mod server_costs;
mod server_crash;
mod server_events;
mod server_hardening_api;
mod server_hardening_edge;
mod server_hardening_money;
mod server_isolation;
mod server_openapi;
mod server_outage;
mod support;
