//! Accounts, sign-in and API keys.

use axum::Json as Reply;
use axum::extract::{Path, State};
use axum::http::header::{AUTHORIZATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use llmlab_api::{
    Account, ApiKeyInfo, CreateKeyRequest, CreateKeyResponse, LoginRequest, LoginResponse, Project, SignupRequest,
    SignupResponse, UpdateAccountRequest,
};
use llmlab_store::{AccountUpdate, NewUser, User};

use crate::auth::{Caller, authenticate, generate_key};
use crate::clock::now_ms;
use crate::clock::rfc3339;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::json::Json;
use crate::service::{accounts, labels};
use crate::session;
use crate::state::AppState;

/// A display name: blank means none.
fn optional_name(name: Option<&str>, field: &str) -> ApiResult<Option<String>> {
    let Some(name) = name else { return Ok(None) };
    let name = labels::optional_text(name, labels::MAX_NAME_CHARS).map_err(|e| ApiError::invalid(field, e))?;
    Ok(name.map(str::to_owned))
}

/// Characters in a key's public id: `llm_` and 8 letters or digits.
const KEY_ID_LEN: usize = 12;

/// True when `key_id` has the shape of a key's public id. Anything else
/// names no key (404, like another account's key), and never reaches the
/// database: PostgreSQL would refuse a NUL in it with an error.
fn is_key_id(key_id: &str) -> bool {
    key_id.len() == KEY_ID_LEN
        && key_id.starts_with("llm_")
        && key_id.bytes().skip("llm_".len()).all(|b| b.is_ascii_alphanumeric())
}

/// Creates an account and its first API key; the key is shown only in this response.
#[utoipa::path(post, path = "/api/auth/signup", tag = "auth", request_body(content = Option<SignupRequest>),
    responses((status = 201, body = SignupResponse), (status = 422, body = llmlab_api::ErrorBody)))]
pub async fn signup(
    State(state): State<AppState>,
    Json(request): Json<SignupRequest>,
) -> ApiResult<(StatusCode, Reply<SignupResponse>)> {
    let name = optional_name(request.name.as_deref(), "name")?;
    let now = now_ms();
    let key = generate_key(Some("default".to_owned()), now);
    let public_id = format!("usr_{}", uuid::Uuid::now_v7().simple());
    let user = state.store.create_user(&NewUser { public_id, name, created_at: now }, &key.record).await?;
    tracing::info!(user = %user.public_id, "account created");
    Ok((
        StatusCode::CREATED,
        Reply(SignupResponse {
            user_id: user.public_id,
            api_key: key.api_key,
            key_id: key.record.key_id,
            name: user.name,
        }),
    ))
}

/// Checks an API key (Bearer header or `api_key` in the body) and returns its account.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body(content = Option<LoginRequest>),
    responses((status = 200, body = LoginResponse), (status = 401, body = llmlab_api::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(request): Json<LoginRequest>,
) -> ApiResult<Reply<LoginResponse>> {
    let caller = caller_from(&state, &headers, request.api_key.as_deref()).await?;
    Ok(Reply(login_response(&state, &caller.user).await?))
}

/// Signs the dashboard in: checks the key and sets the `HttpOnly` session cookie.
#[utoipa::path(post, path = "/api/auth/session", tag = "auth", request_body(content = Option<LoginRequest>),
    responses((status = 200, body = LoginResponse, description = "Signed in; the response sets the session cookie"),
              (status = 401, body = llmlab_api::ErrorBody)))]
pub async fn create_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(request): Json<LoginRequest>,
) -> ApiResult<Response> {
    let key = request.api_key.clone().unwrap_or_default();
    let caller = caller_from(&state, &headers, request.api_key.as_deref()).await?;
    let body = login_response(&state, &caller.user).await?;
    let key = if key.is_empty() { bearer(&headers).unwrap_or_default() } else { key };
    Ok(([(SET_COOKIE, session::sign_in_cookie(key.trim(), state.settings.secure_cookies))], Reply(body))
        .into_response())
}

/// Signs the dashboard out (clears the session cookie).
#[utoipa::path(delete, path = "/api/auth/session", tag = "auth", responses((status = 204)))]
pub async fn delete_session() -> Response {
    (StatusCode::NO_CONTENT, [(SET_COOKIE, session::sign_out_cookie())]).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(|k| k.trim().to_owned())
}

async fn caller_from(state: &AppState, headers: &HeaderMap, body_key: Option<&str>) -> ApiResult<Caller> {
    let key = body_key.map(str::to_owned).or_else(|| bearer(headers)).ok_or_else(|| {
        ApiError::new(
            ErrorCode::MissingApiKey,
            "send the key as `{\"api_key\": \"llm_…\"}` or `Authorization: Bearer llm_…`",
        )
    })?;
    authenticate(state, key.trim()).await
}

async fn login_response(state: &AppState, user: &User) -> ApiResult<LoginResponse> {
    let projects = state.store.list_projects(user.id).await?;
    Ok(LoginResponse {
        user_id: user.public_id.clone(),
        name: user.name.clone(),
        timezone: user.timezone.clone(),
        created_at: rfc3339(user.created_at),
        projects: projects
            .into_iter()
            .map(|p| Project { name: p.name, created_at: rfc3339(p.created_at), calls: p.calls, all_time_usd: p.cost })
            .collect(),
    })
}

/// The caller's account settings.
#[utoipa::path(get, path = "/api/account", tag = "auth", security(("api_key" = [])),
    responses((status = 200, body = Account), (status = 401, body = llmlab_api::ErrorBody)))]
pub async fn get_account(caller: Caller) -> Reply<Account> {
    Reply(accounts::account(&caller.user))
}

/// Changes the account's name, time zone or hard-budget setting.
#[utoipa::path(patch, path = "/api/account", tag = "auth", security(("api_key" = [])), request_body(content = Option<UpdateAccountRequest>),
    responses((status = 200, body = Account), (status = 422, body = llmlab_api::ErrorBody)))]
pub async fn update_account(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<UpdateAccountRequest>,
) -> ApiResult<Reply<Account>> {
    if let Some(tz) = &request.timezone {
        jiff::tz::TimeZone::get(tz).map_err(|_| {
            ApiError::invalid("timezone", format!("`{tz}` is not an IANA time zone such as `Europe/Paris`"))
        })?;
    }
    let update = AccountUpdate {
        name: optional_name(request.name.as_deref(), "name")?,
        timezone: request.timezone,
        hard_budget: request.hard_budget,
    };
    let user = state.store.update_user(caller.user.id, &update).await?;
    state.forget_account(user.id);
    Ok(Reply(accounts::account(&user)))
}

/// The account's API keys (never their secrets).
#[utoipa::path(get, path = "/api/keys", tag = "auth", security(("api_key" = [])),
    responses((status = 200, body = Vec<ApiKeyInfo>), (status = 401, body = llmlab_api::ErrorBody)))]
pub async fn list_keys(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply<Vec<ApiKeyInfo>>> {
    Ok(Reply(accounts::keys(&state, &caller).await?))
}

/// Creates another API key; the key is shown only in this response.
#[utoipa::path(post, path = "/api/keys", tag = "auth", security(("api_key" = [])), request_body(content = Option<CreateKeyRequest>),
    responses((status = 201, body = CreateKeyResponse), (status = 401, body = llmlab_api::ErrorBody)))]
pub async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<CreateKeyRequest>,
) -> ApiResult<(StatusCode, Reply<CreateKeyResponse>)> {
    let name = optional_name(request.name.as_deref(), "name")?;
    let key = generate_key(name, now_ms());
    let stored = state.store.create_key(caller.user.id, &key.record).await?;
    Ok((
        StatusCode::CREATED,
        Reply(CreateKeyResponse { api_key: key.api_key, key: accounts::key_info(stored, &caller.key_id) }),
    ))
}

/// Revokes one of the account's keys, at once.
#[utoipa::path(delete, path = "/api/keys/{key_id}", tag = "auth", security(("api_key" = [])),
    params(("key_id" = String, Path, pattern = r"^llm_[0-9A-Za-z]{8}$",
            description = "The key's public id, e.g. `llm_ab12cd34`")),
    responses((status = 200, body = ApiKeyInfo),
              (status = 404, body = llmlab_api::ErrorBody,
               description = "The account has no such key; also any id that is not `llm_` and 8 letters or digits")))]
pub async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(key_id): Path<String>,
) -> ApiResult<Reply<ApiKeyInfo>> {
    let not_found = || ApiError::not_found(format!("this account has no API key {key_id:?}"));
    if !is_key_id(&key_id) {
        return Err(not_found());
    }
    let key = state.store.revoke_key(caller.user.id, &key_id, now_ms()).await.map_err(|e| match e {
        llmlab_store::StoreError::NotFound => not_found(),
        other => other.into(),
    })?;
    state.forget_account(caller.user.id);
    tracing::info!(user = %caller.user.public_id, key = %key.key_id, "API key revoked");
    Ok(Reply(accounts::key_info(key, &caller.key_id)))
}
