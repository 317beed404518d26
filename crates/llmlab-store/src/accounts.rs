//! Accounts, API keys and projects.

use llmlab_core::Money;

use sqlx::Connection as _;

use crate::{
    AccountUpdate, ApiKey, NewApiKey, NewUser, ProjectSummary, Store, StoreError, StoreResult, User, on_unique,
    with_pool,
};

/// The project events go to when they name none.
pub const DEFAULT_PROJECT: &str = "default";

const USER_COLUMNS: &str = "id, public_id, name, timezone, hard_budget, created_at";
const KEY_COLUMNS: &str = "user_id, key_id, secret_hash, name, created_at, last_used_at, revoked_at";

impl Store {
    /// Creates an account, its first API key and its default project, atomically.
    pub async fn create_user(&self, user: &NewUser, key: &NewApiKey) -> StoreResult<User> {
        self.insert_user(user, key, None).await
    }

    /// [`Store::create_user`], using up the invitation whose token hashes to
    /// `invite_hash` in the same transaction: `NotFound` (and no account)
    /// when it does not exist, was used, or has expired at the user's `created_at`.
    pub async fn create_invited_user(&self, user: &NewUser, key: &NewApiKey, invite_hash: &str) -> StoreResult<User> {
        self.insert_user(user, key, Some(invite_hash)).await
    }

    async fn insert_user(&self, user: &NewUser, key: &NewApiKey, invite_hash: Option<&str>) -> StoreResult<User> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let created: User = sqlx::query_as(&format!(
                "insert into users (public_id, name, created_at) values ($1, $2, $3) returning {USER_COLUMNS}"
            )).persistent(self.persistent)
            .bind(&user.public_id)
            .bind(&user.name)
            .bind(user.created_at)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| on_unique(e, "an account with this id exists"))?;
            sqlx::query(
                "insert into api_keys (user_id, key_id, secret_hash, name, created_at) values ($1, $2, $3, $4, $5)",
            ).persistent(self.persistent)
            .bind(created.id)
            .bind(&key.key_id)
            .bind(&key.secret_hash)
            .bind(&key.name)
            .bind(key.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| on_unique(e, "an API key with this id exists"))?;
            sqlx::query("insert into projects (user_id, name, created_at) values ($1, $2, $3)").persistent(self.persistent)
                .bind(created.id)
                .bind(DEFAULT_PROJECT)
                .bind(user.created_at)
                .execute(&mut *tx)
                .await?;
            if let Some(invite_hash) = invite_hash {
                // Single use: of two sign-ups racing with one invite, one updates the row.
                let used = sqlx::query(
                    "update invites set used_at = $1, used_by = $2 \
                     where token_hash = $3 and used_at is null and expires_at > $1",
                ).persistent(self.persistent)
                .bind(user.created_at)
                .bind(created.id)
                .bind(invite_hash)
                .execute(&mut *tx)
                .await?;
                if used.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
            }
            tx.commit().await?;
            Ok(created)
        })
    }

    /// The key with this public id and its account, revoked or not.
    pub async fn find_key(&self, key_id: &str) -> StoreResult<Option<(ApiKey, User)>> {
        let key: Option<ApiKey> = with_pool!(self, pool => {
            sqlx::query_as(&format!("select {KEY_COLUMNS} from api_keys where key_id = $1")).persistent(self.persistent)
                .bind(key_id)
                .fetch_optional(pool)
                .await
        })?;
        let Some(key) = key else { return Ok(None) };
        let user = self.user(key.user_id).await?;
        Ok(Some((key, user)))
    }

    /// Records that a key was used (callers throttle this; it is a write).
    pub async fn touch_key(&self, key_id: &str, now: i64) -> StoreResult<()> {
        with_pool!(self, pool => {
            sqlx::query("update api_keys set last_used_at = $1 where key_id = $2").persistent(self.persistent)
                .bind(now)
                .bind(key_id)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// The account with this numeric id.
    pub async fn user(&self, user_id: i64) -> StoreResult<User> {
        with_pool!(self, pool => {
            sqlx::query_as(&format!("select {USER_COLUMNS} from users where id = $1")).persistent(self.persistent)
                .bind(user_id)
                .fetch_optional(pool)
                .await
        })?
        .ok_or(StoreError::NotFound)
    }

    /// Applies the given changes to an account.
    pub async fn update_user(&self, user_id: i64, update: &AccountUpdate) -> StoreResult<User> {
        with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "update users set name = coalesce($1, name), timezone = coalesce($2, timezone), \
                 hard_budget = coalesce($3, hard_budget) where id = $4 returning {USER_COLUMNS}"
            )).persistent(self.persistent)
            .bind(&update.name)
            .bind(&update.timezone)
            .bind(update.hard_budget)
            .bind(user_id)
            .fetch_optional(pool)
            .await
        })?
        .ok_or(StoreError::NotFound)
    }

    /// The account's keys, newest first.
    pub async fn list_keys(&self, user_id: i64) -> StoreResult<Vec<ApiKey>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&format!("select {KEY_COLUMNS} from api_keys where user_id = $1 order by created_at desc, key_id")).persistent(self.persistent)
                .bind(user_id)
                .fetch_all(pool)
                .await
        })?)
    }

    /// Adds a key to an account.
    pub async fn create_key(&self, user_id: i64, key: &NewApiKey) -> StoreResult<ApiKey> {
        with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "insert into api_keys (user_id, key_id, secret_hash, name, created_at) values ($1, $2, $3, $4, $5) \
                 returning {KEY_COLUMNS}"
            )).persistent(self.persistent)
            .bind(user_id)
            .bind(&key.key_id)
            .bind(&key.secret_hash)
            .bind(&key.name)
            .bind(key.created_at)
            .fetch_one(pool)
            .await
            .map_err(|e| on_unique(e, "an API key with this id exists"))
        })
    }

    /// Revokes one of the account's keys and ends the dashboard sessions
    /// opened with it, atomically; `NotFound` if it has no such key.
    pub async fn revoke_key(&self, user_id: i64, key_id: &str, now: i64) -> StoreResult<ApiKey> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let key: Option<ApiKey> = sqlx::query_as(&format!(
                "update api_keys set revoked_at = coalesce(revoked_at, $1) where user_id = $2 and key_id = $3 \
                 returning {KEY_COLUMNS}"
            )).persistent(self.persistent)
            .bind(now)
            .bind(user_id)
            .bind(key_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(key) = key else { return Err(StoreError::NotFound) };
            sqlx::query("update sessions set revoked_at = $1 where user_id = $2 and key_id = $3 and revoked_at is null")
                .persistent(self.persistent)
                .bind(now)
                .bind(user_id)
                .bind(key_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(key)
        })
    }

    /// The account's projects with their all-time totals, by name.
    pub async fn list_projects(&self, user_id: i64) -> StoreResult<Vec<ProjectSummary>> {
        let rows: Vec<(String, i64, i64, i64)> = with_pool!(self, pool => {
            sqlx::query_as(
                "select p.name, p.created_at, cast(coalesce(sum(t.calls), 0) as bigint), \
                 cast(coalesce(sum(t.cost_nusd), 0) as bigint) \
                 from projects p left join cost_totals t on t.user_id = p.user_id and t.project_id = p.id \
                 where p.user_id = $1 group by p.id, p.name, p.created_at order by p.name",
            ).persistent(self.persistent)
            .bind(user_id)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(name, created_at, calls, cost)| ProjectSummary {
                name,
                created_at,
                calls: u64::try_from(calls).unwrap_or(0),
                cost: Money::from_nanos(cost),
            })
            .collect())
    }

    /// The id of the account's project `name` if this process has seen it.
    pub(crate) fn cached_project(&self, user_id: i64, name: &str) -> Option<i64> {
        self.project_ids.lock().expect("project cache lock").get(&(user_id, name.to_owned())).copied()
    }

    /// Remembers project ids; call only after the transaction that made them committed.
    pub(crate) fn remember_projects(&self, ids: impl IntoIterator<Item = ((i64, String), i64)>) {
        self.project_ids.lock().expect("project cache lock").extend(ids);
    }
}

/// Creates the project if needed and returns its id. `do update` (a no-op)
/// rather than `do nothing`, so `returning` also yields an existing row.
pub(crate) const UPSERT_PROJECT: &str = "insert into projects (user_id, name, created_at) values ($1, $2, $3) \
    on conflict (user_id, name) do update set name = excluded.name returning id";
