//! Dashboard sessions, sign-up invitations and the server's admin token.
//! Every secret arrives here already hashed; queries that list or end
//! sessions take the account's id, so no account reaches another's.

use crate::{NewInvite, NewSession, Session, Store, StoreError, StoreResult, on_unique, with_pool};

const SESSION_COLUMNS: &str =
    "public_id, user_id, key_id, user_agent, created_at, last_seen_at, expires_at, revoked_at";
/// [`SESSION_COLUMNS`] of the table aliased `s`.
const S_SESSION_COLUMNS: &str =
    "s.public_id, s.user_id, s.key_id, s.user_agent, s.created_at, s.last_seen_at, s.expires_at, s.revoked_at";

impl Store {
    /// Stores a new session.
    pub async fn create_session(&self, session: &NewSession) -> StoreResult<Session> {
        with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "insert into sessions (public_id, token_hash, user_id, key_id, user_agent, created_at, last_seen_at, \
                 expires_at) values ($1, $2, $3, $4, $5, $6, $6, $7) returning {SESSION_COLUMNS}"
            )).persistent(self.persistent)
            .bind(&session.public_id)
            .bind(&session.token_hash)
            .bind(session.user_id)
            .bind(&session.key_id)
            .bind(&session.user_agent)
            .bind(session.created_at)
            .bind(session.expires_at)
            .fetch_one(pool)
            .await
            .map_err(|e| on_unique(e, "a session with this id exists"))
        })
    }

    /// The session whose cookie token hashes to `token_hash`, ended or not.
    pub async fn find_session(&self, token_hash: &str) -> StoreResult<Option<Session>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&format!("select {SESSION_COLUMNS} from sessions where token_hash = $1"))
                .persistent(self.persistent)
                .bind(token_hash)
                .fetch_optional(pool)
                .await
        })?)
    }

    /// Records that a session was used (callers throttle this; it is a write).
    pub async fn touch_session(&self, public_id: &str, now: i64) -> StoreResult<()> {
        with_pool!(self, pool => {
            sqlx::query("update sessions set last_seen_at = $1 where public_id = $2 and last_seen_at < $1")
                .persistent(self.persistent)
                .bind(now)
                .bind(public_id)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// The account's sessions that are still open at `now` (not ended, not
    /// expired, and opened with a key that is not revoked), newest first.
    pub async fn list_sessions(&self, user_id: i64, now: i64) -> StoreResult<Vec<Session>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "select {S_SESSION_COLUMNS} from sessions s join api_keys k on k.key_id = s.key_id \
                 where s.user_id = $1 and s.revoked_at is null and s.expires_at > $2 and k.revoked_at is null \
                 order by s.created_at desc, s.public_id"
            )).persistent(self.persistent)
            .bind(user_id)
            .bind(now)
            .fetch_all(pool)
            .await
        })?)
    }

    /// Ends one of the account's sessions; `NotFound` if it has no such session.
    pub async fn revoke_session(&self, user_id: i64, public_id: &str, now: i64) -> StoreResult<Session> {
        with_pool!(self, pool => {
            sqlx::query_as(&format!(
                "update sessions set revoked_at = coalesce(revoked_at, $1) where user_id = $2 and public_id = $3 \
                 returning {SESSION_COLUMNS}"
            )).persistent(self.persistent)
            .bind(now)
            .bind(user_id)
            .bind(public_id)
            .fetch_optional(pool)
            .await
        })?
        .ok_or(StoreError::NotFound)
    }

    /// Ends every open session of the account ("sign out everywhere"); how many ended.
    pub async fn revoke_sessions(&self, user_id: i64, now: i64) -> StoreResult<u64> {
        with_pool!(self, pool => {
            sqlx::query("update sessions set revoked_at = $1 where user_id = $2 and revoked_at is null")
                .persistent(self.persistent)
                .bind(now)
                .bind(user_id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(StoreError::from)
    }

    /// Deletes the sessions and invites that ended (expired, signed out,
    /// used) before `before`: nothing reads them any more. How many rows went.
    pub async fn purge_ended(&self, before: i64) -> StoreResult<u64> {
        let sessions = with_pool!(self, pool => {
            sqlx::query("delete from sessions where expires_at < $1 or revoked_at < $1")
                .persistent(self.persistent)
                .bind(before)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        let invites = with_pool!(self, pool => {
            sqlx::query("delete from invites where expires_at < $1 or used_at < $1")
                .persistent(self.persistent)
                .bind(before)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(sessions + invites)
    }

    /// Stores a sign-up invitation.
    pub async fn create_invite(&self, invite: &NewInvite) -> StoreResult<()> {
        with_pool!(self, pool => {
            sqlx::query("insert into invites (token_hash, created_by, created_at, expires_at) values ($1, $2, $3, $4)")
                .persistent(self.persistent)
                .bind(&invite.token_hash)
                .bind(invite.created_by)
                .bind(invite.created_at)
                .bind(invite.expires_at)
                .execute(pool)
                .await
                .map_err(|e| on_unique(e, "an invite with this token exists"))
                .map(|_| ())
        })
    }

    /// The hash of the admin token generated at first start, if there is one.
    pub async fn admin_token_hash(&self) -> StoreResult<Option<String>> {
        let row: Option<(String,)> = with_pool!(self, pool => {
            sqlx::query_as("select token_hash from admin_tokens where id = 1")
                .persistent(self.persistent)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row.map(|(hash,)| hash))
    }

    /// Stores the generated admin token's hash unless one is stored already;
    /// true when this call stored it (so exactly one of several replicas
    /// starting together shows its token).
    pub async fn init_admin_token(&self, token_hash: &str, now: i64) -> StoreResult<bool> {
        with_pool!(self, pool => {
            sqlx::query(
                "insert into admin_tokens (id, token_hash, created_at) values (1, $1, $2) on conflict (id) do nothing",
            )
            .persistent(self.persistent)
            .bind(token_hash)
            .bind(now)
            .execute(pool)
            .await
            .map(|done| done.rows_affected() == 1)
        })
        .map_err(StoreError::from)
    }
}
