-- One row per account adding up every rollup counter: the ceiling that keeps
-- every sum of an account's rows inside a 64-bit integer.
--
-- Each rollup row (a model's total, a day, an hour) is part of its account's
-- total, and every counter only grows, so when this row fits, every partial
-- sum a summary adds up fits too. An insert that would push it past the
-- range fails here and the request that carried it is refused.
--
-- SQLite turns an integer addition that overflows into a REAL instead of
-- failing; the checks below turn that into a constraint error.
create table account_totals (
    user_id integer not null,
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
    constraint account_totals_pkey primary key (user_id),
    constraint account_totals_in_range check (
        typeof(calls) = 'integer' and typeof(unpriced_calls) = 'integer' and typeof(batch_calls) = 'integer'
        and typeof(cost_nusd) = 'integer' and typeof(input_tokens) = 'integer'
        and typeof(cache_read_tokens) = 'integer' and typeof(cache_write_tokens) = 'integer'
        and typeof(cache_write_1h_tokens) = 'integer' and typeof(output_tokens) = 'integer'
        and typeof(reasoning_tokens) = 'integer' and typeof(web_search_requests) = 'integer'
    )
) without rowid;

insert into account_totals (user_id, calls, unpriced_calls, batch_calls, cost_nusd, input_tokens, cache_read_tokens,
    cache_write_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens, web_search_requests, created_at)
select user_id, sum(calls), sum(unpriced_calls), sum(batch_calls), sum(cost_nusd), sum(input_tokens),
    sum(cache_read_tokens), sum(cache_write_tokens), sum(cache_write_1h_tokens), sum(output_tokens),
    sum(reasoning_tokens), sum(web_search_requests), min(created_at)
from cost_totals group by user_id;
