-- LLMLab schema, SQLite. Times are Unix milliseconds (UTC); money is integer
-- nano-USD (NULL = unpriced, never 0); token counts are integers.

create table users (
    id integer primary key,
    public_id text not null constraint users_public_id_key unique,
    name text,
    timezone text not null default 'UTC',
    hard_budget integer not null default 0,
    created_at integer not null
);

create table api_keys (
    id integer primary key,
    user_id integer not null references users (id),
    -- The public part of the key (`llm_` + 8 characters), used to find the row.
    key_id text not null constraint api_keys_key_id_key unique,
    -- SHA-256 of the whole key, hex; the key itself is never stored.
    secret_hash text not null,
    name text,
    created_at integer not null,
    last_used_at integer,
    revoked_at integer
);
create index api_keys_user on api_keys (user_id);

create table projects (
    id integer primary key,
    user_id integer not null references users (id),
    name text not null,
    created_at integer not null,
    constraint projects_user_name_key unique (user_id, name)
);

create table cost_events (
    id integer primary key,
    user_id integer not null references users (id),
    -- The client's idempotency id (or one the server generated).
    event_id text not null,
    project_id integer not null references projects (id),
    provider text not null,
    -- The model as reported, and its canonical id (for custom-price matching).
    model text not null,
    model_key text not null,
    occurred_at integer not null,
    input_tokens integer not null,
    cache_read_tokens integer not null,
    cache_write_tokens integer not null,
    cache_write_1h_tokens integer not null,
    output_tokens integer not null,
    reasoning_tokens integer not null,
    input_audio_tokens integer not null,
    output_audio_tokens integer not null,
    web_search_requests integer not null,
    cost_nusd integer,
    -- catalog | custom | explicit (NULL when unpriced)
    cost_source text,
    priced_as text,
    -- unknown_model | missing_price | anomaly | no_usage | no_model (NULL when priced)
    unpriced_code text,
    unpriced_reason text,
    service_tier text not null,
    long_context integer not null,
    latency_ms integer,
    status text,
    tags text,
    raw_usage text,
    created_at integer not null,
    constraint cost_events_user_event_key unique (user_id, event_id)
);
create index cost_events_user_time on cost_events (user_id, occurred_at);
create index cost_events_unpriced on cost_events (user_id, model_key) where cost_nusd is null;

-- Spend per 15-minute UTC bucket (every real time zone offset is a multiple
-- of 15 minutes, so local days are exact sums of buckets). Maintained in the
-- same transaction as the event insert; the dashboard reads only this.
create table cost_rollups (
    user_id integer not null,
    bucket integer not null,
    project_id integer not null,
    provider text not null,
    model text not null,
    calls integer not null,
    unpriced_calls integer not null,
    batch_calls integer not null,
    cost_nusd integer not null,
    input_tokens integer not null,
    cache_read_tokens integer not null,
    cache_write_tokens integer not null,
    cache_write_1h_tokens integer not null,
    output_tokens integer not null,
    reasoning_tokens integer not null,
    web_search_requests integer not null,
    created_at integer not null,
    constraint cost_rollups_pkey primary key (user_id, bucket, project_id, provider, model)
) without rowid;

-- All-time spend per project and model, for all-time figures without a scan.
create table cost_totals (
    user_id integer not null,
    project_id integer not null,
    provider text not null,
    model text not null,
    calls integer not null,
    unpriced_calls integer not null,
    batch_calls integer not null,
    cost_nusd integer not null,
    input_tokens integer not null,
    cache_read_tokens integer not null,
    cache_write_tokens integer not null,
    cache_write_1h_tokens integer not null,
    output_tokens integer not null,
    reasoning_tokens integer not null,
    web_search_requests integer not null,
    created_at integer not null,
    constraint cost_totals_pkey primary key (user_id, project_id, provider, model)
) without rowid;

-- An account's own prices, decimal strings in USD per 1M tokens.
create table custom_prices (
    user_id integer not null references users (id),
    model_key text not null,
    provider text,
    input text not null,
    output text not null,
    cache_read text,
    cache_write_5m text,
    cache_write_1h text,
    created_at integer not null,
    updated_at integer not null,
    constraint custom_prices_pkey primary key (user_id, model_key)
);

create table budgets (
    user_id integer primary key references users (id),
    amount_nusd integer not null,
    period text not null,
    created_at integer not null,
    updated_at integer not null
);

-- Each threshold crossing, recorded once per budget period.
create table budget_alerts (
    user_id integer not null references users (id),
    period_start text not null,
    threshold text not null,
    created_at integer not null,
    constraint budget_alerts_pkey primary key (user_id, period_start, threshold)
);
