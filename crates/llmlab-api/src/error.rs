//! The one error shape every endpoint returns.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `{"error": {"code": "…", "message": "…"}}`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code, e.g. `invalid_api_key`, `invalid_field`.
    pub code: String,
    /// One sentence for a human, naming the field or value at fault.
    pub message: String,
}
