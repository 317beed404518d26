-- Coarser rollups, so a month of spend is ~30 daily rows per model instead of
-- ~2,880 quarter-hours: a summary's cost no longer grows with the traffic.
-- cost_daily: per UTC day and (project, provider, model); local days use it
--   for their whole UTC days and the 15-minute rollups for the edges.
-- cost_hourly: per UTC hour and project, totals only, for the 30-day trend.

create table cost_daily (
    user_id integer not null,
    day integer not null,
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
    constraint cost_daily_pkey primary key (user_id, day, project_id, provider, model)
) without rowid;

create table cost_hourly (
    user_id integer not null,
    hour integer not null,
    project_id integer not null,
    calls integer not null,
    unpriced_calls integer not null,
    cost_nusd integer not null,
    created_at integer not null,
    constraint cost_hourly_pkey primary key (user_id, hour, project_id)
) without rowid;

-- Existing data: derive both from the 15-minute rollups.
insert into cost_daily (user_id, day, project_id, provider, model, calls, unpriced_calls, batch_calls, cost_nusd,
    input_tokens, cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens,
    web_search_requests, created_at)
select user_id, bucket - (bucket % 86400000), project_id, provider, model, sum(calls), sum(unpriced_calls),
    sum(batch_calls), sum(cost_nusd), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_tokens),
    sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(web_search_requests), min(created_at)
from cost_rollups group by user_id, bucket - (bucket % 86400000), project_id, provider, model;

insert into cost_hourly (user_id, hour, project_id, calls, unpriced_calls, cost_nusd, created_at)
select user_id, bucket - (bucket % 3600000), project_id, sum(calls), sum(unpriced_calls), sum(cost_nusd), min(created_at)
from cost_rollups group by user_id, bucket - (bucket % 3600000), project_id;
