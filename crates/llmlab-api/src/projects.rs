//! Projects.

use llmlab_core::Money;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Project {
    pub name: String,
    pub created_at: String,
    pub calls: u64,
    #[schema(value_type = String)]
    pub all_time_usd: Money,
}
