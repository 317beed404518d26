//! Integration tests: the real `llmlab` binary, run as a user would.

mod cost_command;
mod prices_command;
mod support;
