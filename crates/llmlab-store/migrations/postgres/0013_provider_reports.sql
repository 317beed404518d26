-- Provider reports (issue 17): an account's connections to the providers'
-- admin APIs, and what their usage and cost reports say, stored apart from
-- tracked events so nothing is ever counted twice.

-- One admin key per account and provider, sealed with the server key
-- (`v1:<key id>:<base64>`); only a hint is kept in clear. `usage_next_day`
-- and `cost_next_day` (UTC midnight, Unix ms) are where an interrupted sync
-- resumes: every day before them was stored whole.
create table provider_connections (
    user_id bigint not null references users (id),
    -- openai | anthropic
    provider text not null,
    key_hint text not null,
    key_sealed text not null,
    backfill_days bigint not null,
    usage_next_day bigint,
    cost_next_day bigint,
    last_sync_at bigint,
    last_error text,
    created_at bigint not null,
    constraint provider_connections_pkey primary key (user_id, provider)
);

-- One row of a usage report: a UTC day (midnight, Unix ms) and the report's
-- own group (`bucket_key`: model, project or workspace, API key, tier,
-- context window). A re-reported day replaces its rows (upsert on the key,
-- then the rows of that day the new report no longer has are deleted:
-- `sync_id` tells them apart). `cost_nusd` is LLMLab's price of the tokens,
-- null when the model has no price.
create table reported_usage (
    user_id bigint not null references users (id),
    provider text not null,
    day bigint not null,
    bucket_key text not null,
    model text not null,
    priced_as text,
    project text,
    api_key_id text,
    service_tier text not null,
    context_window text,
    requests bigint,
    input_tokens bigint not null,
    cache_read_tokens bigint not null,
    cache_write_tokens bigint not null,
    cache_write_1h_tokens bigint not null,
    output_tokens bigint not null,
    reasoning_tokens bigint not null,
    input_audio_tokens bigint not null,
    cache_read_audio_tokens bigint not null,
    output_audio_tokens bigint not null,
    web_search_requests bigint not null,
    web_fetch_requests bigint not null,
    file_search_calls bigint not null,
    container_sessions bigint not null,
    grounded_prompts bigint not null,
    cost_nusd bigint,
    unpriced_reason text,
    sync_id bigint not null,
    constraint reported_usage_pkey primary key (user_id, provider, day, bucket_key)
);

-- One row of a cost report: a UTC day and a line item, billed exactly as the
-- provider states it (`amount_text`, in the provider's unit: dollars for
-- OpenAI, cents for Anthropic; `amount_usd` the same in dollars, exact).
create table reported_costs (
    user_id bigint not null references users (id),
    provider text not null,
    day bigint not null,
    bucket_key text not null,
    line_item text,
    model text,
    priced_as text,
    project text,
    amount_text text not null,
    amount_usd text not null,
    amount_nusd bigint not null,
    currency text not null,
    sync_id bigint not null,
    constraint reported_costs_pkey primary key (user_id, provider, day, bucket_key)
);
