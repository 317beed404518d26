//! Accounts, sign-in and API keys.

use axum::Json as Reply;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::header::{AUTHORIZATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use llmlab_api::{
    Account, ApiKeyInfo, CreateInviteRequest, CreateKeyRequest, CreateKeyResponse, InviteResponse, LoginRequest,
    LoginResponse, Project, SessionInfo, SessionsEnded, SignupRequest, SignupResponse, UpdateAccountRequest,
};
use llmlab_store::{AccountUpdate, NewInvite, NewSession, NewUser, StoreError, User};

use crate::auth::{Caller, SignInFromThisSite, authenticate, generate_key};
use crate::clock::now_ms;
use crate::clock::rfc3339;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::json::Json;
use crate::service::{accounts, labels};
use crate::session;
use crate::signup::{self, SignupPolicy};
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
/// Who may sign up depends on the server's `--signup` policy: anyone (`open`);
/// only with the admin token as `Authorization: Bearer` (`closed`); with an
/// invitation (`invite` in the body) or the admin token (`invite`).
#[utoipa::path(post, path = "/api/auth/signup", tag = "auth", request_body(content = Option<SignupRequest>),
    responses((status = 201, body = SignupResponse),
              (status = 401, body = llmlab_api::ErrorBody,
               description = "`Authorization` holds a token that is not the server's admin token (`invalid_admin_token`)"),
              (status = 403, body = llmlab_api::ErrorBody,
               description = "The sign-up policy refuses it: `signup_closed`, `invite_required` or `invite_invalid`"),
              (status = 422, body = llmlab_api::ErrorBody),
              (status = 429, body = llmlab_api::ErrorBody,
               description = "Too many sign-up or sign-in attempts from this address (`rate_limited`); see `Retry-After`")))]
pub async fn signup(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(request): Json<SignupRequest>,
) -> ApiResult<(StatusCode, Reply<SignupResponse>)> {
    let name = optional_name(request.name.as_deref(), "name")?;
    let invite = admission(&state, &headers, request.invite.as_deref())?;
    let now = now_ms();
    let key = generate_key(Some("default".to_owned()), now);
    let public_id = format!("usr_{}", uuid::Uuid::now_v7().simple());
    let new = NewUser { public_id, name, created_at: now };
    let user = match &invite {
        Some(hash) => state.store.create_invited_user(&new, &key.record, hash).await.map_err(|e| match e {
            StoreError::NotFound => invite_invalid(),
            other => other.into(),
        })?,
        None => state.store.create_user(&new, &key.record).await?,
    };
    tracing::info!(user = %user.public_id, invited = invite.is_some(), "account created");
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

/// Whether the sign-up policy lets this request create an account: `Ok(None)`
/// when it may as it is, `Ok(Some(hash))` when the invite with this hash must be
/// used up by it, and the 401/403 that says what to do otherwise.
fn admission(state: &AppState, headers: &HeaderMap, invite: Option<&str>) -> ApiResult<Option<String>> {
    let policy = state.settings.signup;
    if policy == SignupPolicy::Open {
        return Ok(None);
    }
    if signup::is_admin(headers, state.admin_token_hash()) {
        return Ok(None);
    }
    if headers.contains_key(AUTHORIZATION) && policy == SignupPolicy::Closed {
        return Err(ApiError::new(
            ErrorCode::InvalidAdminToken,
            "the `Authorization` header does not hold this server's admin token, and only the admin token can \
             create accounts here (`--signup closed`)",
        ));
    }
    match (policy, invite.map(signup::invite_token).filter(|t| !t.is_empty())) {
        (SignupPolicy::Invite, Some(token)) => Ok(Some(signup::hash_secret(token))),
        (SignupPolicy::Invite, None) => Err(ApiError::new(
            ErrorCode::InviteRequired,
            "this server creates accounts by invitation only (`--signup invite`): open the invite link you were \
             given, or pass its token (`llmlab init --invite inv_…`, or `{\"invite\": \"inv_…\"}`); an existing \
             member or the server's operator can create one",
        )),
        _ => Err(ApiError::new(
            ErrorCode::SignupClosed,
            "this server does not accept sign-ups (`--signup closed`): ask its operator for an account, then run \
             `llmlab init --api-key llm_…` with the key you get",
        )),
    }
}

fn invite_invalid() -> ApiError {
    ApiError::new(
        ErrorCode::InviteInvalid,
        "this invite is not valid: it was already used, it expired, or it never existed; ask for a new one",
    )
}

/// Checks an API key (Bearer header or `api_key` in the body) and returns its account.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body(content = Option<LoginRequest>),
    responses((status = 200, body = LoginResponse), (status = 401, body = llmlab_api::ErrorBody),
              (status = 429, body = llmlab_api::ErrorBody,
               description = "Too many sign-up or sign-in attempts from this address (`rate_limited`); see `Retry-After`")))]
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(request): Json<LoginRequest>,
) -> ApiResult<Reply<LoginResponse>> {
    let caller = caller_from(&state, &headers, request.api_key.as_deref()).await?;
    Ok(Reply(login_response(&state, &caller.user).await?))
}

/// Signs the dashboard in: checks the key, opens a session and sets its
/// `HttpOnly` cookie (a random token; the key never leaves the request).
#[utoipa::path(post, path = "/api/auth/session", tag = "auth", request_body(content = Option<LoginRequest>),
    responses((status = 200, body = LoginResponse, description = "Signed in; the response sets the session cookie"),
              (status = 401, body = llmlab_api::ErrorBody),
              (status = 429, body = llmlab_api::ErrorBody,
               description = "Too many sign-up or sign-in attempts from this address (`rate_limited`); see `Retry-After`")))]
pub async fn create_session(
    State(state): State<AppState>,
    _: SignInFromThisSite,
    headers: HeaderMap,
    Json(request): Json<LoginRequest>,
) -> ApiResult<Response> {
    let caller = caller_from(&state, &headers, request.api_key.as_deref()).await?;
    let cookie = open_session(&state, &caller, &headers).await?;
    let body = login_response(&state, &caller.user).await?;
    Ok(([(SET_COOKIE, cookie)], Reply(body)).into_response())
}

/// Opens a session for `caller` (signed in with a key) and returns its
/// `Set-Cookie` value. A session the browser had is ended: its cookie is
/// about to be replaced, and a session nobody holds should not stay open.
pub async fn open_session(state: &AppState, caller: &Caller, headers: &HeaderMap) -> ApiResult<String> {
    end_cookie_session(state, headers).await?;
    let token = session::new_token();
    let now = now_ms();
    let ttl = i64::try_from(session::SESSION_TTL.as_millis()).unwrap_or(i64::MAX);
    let record = NewSession {
        public_id: session::new_public_id(),
        token_hash: session::hash_token(&token),
        user_id: caller.user.id,
        key_id: caller.key_id.clone(),
        user_agent: session::user_agent(headers),
        created_at: now,
        expires_at: now.saturating_add(ttl),
    };
    state.store.create_session(&record).await?;
    Ok(session::sign_in_cookie(&token, state.settings.secure_cookies))
}

/// Signs the dashboard out: ends this browser's session and clears its cookie.
#[utoipa::path(delete, path = "/api/auth/session", tag = "auth", responses((status = 204)))]
pub async fn delete_session(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> ApiResult<Response> {
    if session::token_from_cookie(&headers).is_some() {
        session::check_same_origin(&headers, &uri, state.settings.secure_cookies)
            .map_err(|refusal| crate::auth::cross_site_error(&refusal))?;
        end_cookie_session(&state, &headers).await?;
    }
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, session::sign_out_cookie(state.settings.secure_cookies))])
        .into_response())
}

/// Ends the session whose token the request's cookie holds, if any.
async fn end_cookie_session(state: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    if let Some(token) = session::token_from_cookie(headers).filter(|t| session::is_token(t))
        && let Some(found) = state.store.find_session(&session::hash_token(&token)).await?
        && found.revoked_at.is_none()
    {
        state.store.revoke_session(found.user_id, &found.public_id, now_ms()).await?;
    }
    Ok(())
}

/// The account's open dashboard sessions (signed-in browsers), newest first.
#[utoipa::path(get, path = "/api/auth/sessions", tag = "auth", security(("api_key" = [])),
    responses((status = 200, body = Vec<SessionInfo>), (status = 401, body = llmlab_api::ErrorBody)))]
pub async fn list_sessions(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply<Vec<SessionInfo>>> {
    Ok(Reply(accounts::sessions(&state, &caller).await?))
}

/// Ends every dashboard session of the account ("sign out everywhere"), this one included.
#[utoipa::path(delete, path = "/api/auth/sessions", tag = "auth", security(("api_key" = [])),
    responses((status = 200, body = SessionsEnded), (status = 401, body = llmlab_api::ErrorBody)))]
pub async fn end_all_sessions(State(state): State<AppState>, caller: Caller) -> ApiResult<Reply<SessionsEnded>> {
    let ended = state.store.revoke_sessions(caller.user.id, now_ms()).await?;
    tracing::info!(user = %caller.user.public_id, ended, "signed out everywhere");
    Ok(Reply(SessionsEnded { ended }))
}

/// Ends one of the account's dashboard sessions.
#[utoipa::path(delete, path = "/api/auth/sessions/{session_id}", tag = "auth", security(("api_key" = [])),
    params(("session_id" = String, Path, pattern = r"^ses_[0-9A-Za-z]{12}$",
            description = "The session's public id, e.g. `ses_ab12cd34ef56`")),
    responses((status = 204, description = "The session ended"),
              (status = 404, body = llmlab_api::ErrorBody, description = "The account has no such session")))]
pub async fn end_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(session_id): Path<String>,
) -> ApiResult<StatusCode> {
    let not_found = || ApiError::not_found(format!("this account has no session {session_id:?}"));
    let well_formed = session_id.len() == 16
        && session_id.starts_with("ses_")
        && session_id.bytes().skip(4).all(|b| b.is_ascii_alphanumeric());
    if !well_formed {
        return Err(not_found());
    }
    state.store.revoke_session(caller.user.id, &session_id, now_ms()).await.map_err(|e| match e {
        StoreError::NotFound => not_found(),
        other => other.into(),
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who creates an invite: the operator (the admin token as `Authorization:
/// Bearer`) or an account (a key, or the dashboard's session). An extractor,
/// so a refusal comes before the body is read.
pub enum Inviter {
    Admin(HeaderMap),
    Account(Caller, HeaderMap),
}

impl Inviter {
    fn headers(&self) -> &HeaderMap {
        match self {
            Inviter::Admin(headers) | Inviter::Account(_, headers) => headers,
        }
    }
}

impl FromRequestParts<AppState> for Inviter {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if signup::is_admin(&parts.headers, state.admin_token_hash()) {
            return Ok(Inviter::Admin(parts.headers.clone()));
        }
        match Caller::from_request_parts(parts, state).await {
            Ok(caller) => Ok(Inviter::Account(caller, parts.headers.clone())),
            // A bearer token that is not shaped like a key was meant as the admin token.
            Err(error)
                if error.code == ErrorCode::InvalidApiKey
                    && !bearer(&parts.headers).is_some_and(|t| t.starts_with("llm_")) =>
            {
                Err(ApiError::new(
                    ErrorCode::InvalidAdminToken,
                    "the `Authorization` header holds neither an API key nor this server's admin token",
                ))
            }
            Err(error) => Err(error),
        }
    }
}

/// Hours an invite lasts unless the request says otherwise.
const DEFAULT_INVITE_HOURS: u32 = 72;
/// The longest an invite may last: 30 days.
const MAX_INVITE_HOURS: u32 = 720;

/// Creates a single-use, expiring invitation to sign up (for `--signup invite`);
/// shown only in this response. Any account may invite, and so may the
/// server's operator with the admin token as `Authorization: Bearer`.
#[utoipa::path(post, path = "/api/auth/invites", tag = "auth", security(("api_key" = [])),
    request_body(content = Option<CreateInviteRequest>),
    responses((status = 201, body = InviteResponse),
              (status = 401, body = llmlab_api::ErrorBody,
               description = "Neither an API key nor the admin token (`missing_api_key`, `invalid_api_key`, \
                              `invalid_admin_token`)")))]
pub async fn create_invite(
    State(state): State<AppState>,
    inviter: Inviter,
    Json(request): Json<CreateInviteRequest>,
) -> ApiResult<(StatusCode, Reply<InviteResponse>)> {
    let created_by = match &inviter {
        Inviter::Admin(_) => None,
        Inviter::Account(caller, _) => Some(caller.user.id),
    };
    let hours = request.expires_in_hours.unwrap_or(DEFAULT_INVITE_HOURS);
    if !(1..=MAX_INVITE_HOURS).contains(&hours) {
        return Err(ApiError::invalid("expires_in_hours", format!("must be 1 to {MAX_INVITE_HOURS} (30 days)")));
    }
    let token = signup::generate_invite();
    let now = now_ms();
    let expires_at = now + i64::from(hours) * 3_600_000;
    state
        .store
        .create_invite(&NewInvite { token_hash: signup::hash_secret(&token), created_by, created_at: now, expires_at })
        .await?;
    let url = format!("{}/signup?invite={token}", state.base_url(inviter.headers()));
    Ok((StatusCode::CREATED, Reply(InviteResponse { invite: token, url, expires_at: rfc3339(expires_at) })))
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).map(|k| k.trim().to_owned())
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
    if let Some(hard) = request.hard_budget {
        crate::service::budgets::set_account_hardness(&state, &user, hard).await?;
    }
    if user.timezone != caller.user.timezone {
        // Calendar periods start at another instant: count them again.
        crate::service::budgets::recount(&state, &user).await?;
    }
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

/// Revokes one of the account's keys, at once, and ends the dashboard sessions opened with it.
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
        StoreError::NotFound => not_found(),
        other => other.into(),
    })?;
    state.forget_account(caller.user.id);
    tracing::info!(user = %caller.user.public_id, key = %key.key_id, "API key revoked");
    Ok(Reply(accounts::key_info(key, &caller.key_id)))
}
