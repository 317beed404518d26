//! The server's services: what the REST API (`routes/`), the dashboard
//! (`ui/`) and the proxy (`proxy/`) do, below the HTTP. Those three are
//! peers above this layer: they parse a request, call one function here,
//! and shape its answer. Nothing here knows about HTTP.
//!
//! | Module | What |
//! | --- | --- |
//! | `ingest/` | events: validate and price (`prepare`), store (`writer`, the group commit), answer with the budget |
//! | `alerts/` | alert channels, the delivery worker (webhook, Slack, Discord, email), anomaly checks, the log |
//! | `budgets` | the monthly budget and its state (80% / 100%), cached per account |
//! | `summary` | today, this month, all time, by model/provider/project, the trend: from the rollups |
//! | `recommendations` | the core's "switch X → Y" tips from the last 30 days |
//! | `export` | events as CSV, streamed |
//! | `reports/` | provider connections (admin keys), report syncs, provider-reported spend, reconciliation, drift alerts |
//! | `prices` | an account's own prices, repricing its unpriced events |
//! | `accounts`, `projects` | accounts, keys and projects as the API shows them |
//! | `otlp` | OTLP trace exports: the LLM spans among them (read by the core) stored through `ingest` |
//! | `labels` | the one validator of the short texts the API stores |

pub mod accounts;
pub mod alerts;
pub mod budgets;
pub mod catalog;
pub mod export;
pub mod ingest;
pub mod labels;
pub mod otlp;
pub mod prices;
pub mod projects;
pub mod recommendations;
pub mod reports;
pub mod summary;
