-- Dashboard sessions, sign-up invites and the server's admin token.
-- Secrets are stored only as SHA-256 hashes (hex); the cookie, the invite
-- and the admin token themselves are never stored.

-- A signed-in browser. The cookie holds a random token whose hash finds the
-- row; `public_id` names the session in the settings page and the API.
create table sessions (
    id integer primary key,
    public_id text not null constraint sessions_public_id_key unique,
    token_hash text not null constraint sessions_token_hash_key unique,
    user_id integer not null references users (id),
    -- The API key the session was opened with: revoking it ends the session.
    key_id text not null,
    user_agent text,
    created_at integer not null,
    last_seen_at integer not null,
    expires_at integer not null,
    revoked_at integer
);
create index sessions_user on sessions (user_id);
create index sessions_key on sessions (key_id);

-- A single-use, expiring invitation to sign up (`--signup invite`).
create table invites (
    id integer primary key,
    token_hash text not null constraint invites_token_hash_key unique,
    -- The account that created it; NULL: the server's admin token.
    created_by integer references users (id),
    created_at integer not null,
    expires_at integer not null,
    used_at integer,
    used_by integer references users (id)
);

-- The admin token generated at first start when none is configured (one row at most).
create table admin_tokens (
    id integer primary key constraint admin_tokens_single check (id = 1),
    token_hash text not null,
    created_at integer not null
);
