//! One module per subcommand.

pub(crate) mod alerts;
pub(crate) mod budget;
pub(crate) mod completions;
pub(crate) mod config;
pub(crate) mod connect;
pub(crate) mod cost;
pub(crate) mod cost_batch;
pub(crate) mod export;
pub(crate) mod import;
pub(crate) mod import_files;
pub(crate) mod import_run;
pub(crate) mod import_send;
pub(crate) mod import_watch;
pub(crate) mod init;
pub(crate) mod optimize;
pub(crate) mod prices;
pub(crate) mod prices_set;
pub(crate) mod prices_update;
pub(crate) mod reconcile;
pub(crate) mod serve;
pub(crate) mod status;
pub(crate) mod sync;
