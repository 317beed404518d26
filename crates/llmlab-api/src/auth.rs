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
    /// An invitation (`inv_…`, or the whole invite link), needed when the
    /// server runs with `--signup invite`; it is used up by this sign-up.
    #[serde(default)]
    #[schema(max_length = 2048)]
    pub invite: Option<String>,
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

/// A signed-in browser (a dashboard session), as listed in settings.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionInfo {
    /// The session's public id, e.g. `ses_ab12cd34ef56`.
    pub session_id: String,
    /// The public id of the API key it was opened with (revoking that key ends it).
    pub key_id: String,
    /// The browser's `User-Agent` when it signed in, shortened.
    pub user_agent: Option<String>,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    /// True for the session this request was made with.
    pub current: bool,
}

/// `DELETE /api/auth/sessions`: how many sessions were ended.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionsEnded {
    pub ended: u64,
}

/// `POST /api/auth/invites` (the body may be empty).
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInviteRequest {
    /// Hours until the invite expires: 1 to 720 (30 days); default 72.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 720)]
    pub expires_in_hours: Option<u32>,
}

/// A new invitation, shown only this once: single use, expiring.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct InviteResponse {
    /// The invite token (`inv_…`): `llmlab init --invite inv_…`, or `{"invite": …}` in a sign-up.
    pub invite: String,
    /// The dashboard's sign-up page with the invite filled in.
    pub url: String,
    pub expires_at: String,
}
