//! Accounts and API keys.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::projects::Project;

/// `POST /api/auth/signup` (the body may be empty).
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// An optional display name.
    #[serde(default)]
    #[schema(schema_with = crate::limits::display_name)]
    pub name: Option<String>,
}

/// The new account and its first API key, shown only this once.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SignupResponse {
    pub user_id: String,
    pub api_key: String,
    pub key_id: String,
    pub name: Option<String>,
}

/// `POST /api/auth/login`: the key in the body, or in `Authorization: Bearer`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[serde(default)]
    pub api_key: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    pub user_id: String,
    pub name: Option<String>,
    /// The account's IANA time zone (budget months and "today" use it).
    pub timezone: String,
    pub created_at: String,
    pub projects: Vec<Project>,
}

/// An API key as listed (never the secret).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyInfo {
    /// The public part of the key, e.g. `llm_ab12cd34`; keys display as `llm_ab12cd34…`.
    pub key_id: String,
    pub name: Option<String>,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// True for the key this request was made with.
    pub current: bool,
}

/// `POST /api/keys`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    #[serde(default)]
    #[schema(schema_with = crate::limits::display_name)]
    pub name: Option<String>,
}

/// A new key, shown only this once.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CreateKeyResponse {
    pub api_key: String,
    pub key: ApiKeyInfo,
}

/// `PATCH /api/account`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccountRequest {
    #[serde(default)]
    #[schema(schema_with = crate::limits::display_name)]
    pub name: Option<String>,
    /// An IANA time zone such as `Europe/Paris`.
    #[serde(default)]
    #[schema(schema_with = account_time_zone)]
    pub timezone: Option<String>,
    /// When true, the proxy refuses calls (429) once the budget is exceeded.
    #[serde(default)]
    pub hard_budget: Option<bool>,
}

fn account_time_zone() -> utoipa::openapi::schema::Schema {
    crate::limits::time_zone(true, "The account's time zone: budget months and \"today\" use it.")
}

/// `GET /api/account`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Account {
    pub user_id: String,
    pub name: Option<String>,
    pub timezone: String,
    pub hard_budget: bool,
    pub created_at: String,
}
