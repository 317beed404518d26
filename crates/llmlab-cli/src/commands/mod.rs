//! One module per subcommand.

pub(crate) mod cost;
pub(crate) mod prices;
pub(crate) mod serve;
