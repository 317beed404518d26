-- One row per account adding up every rollup counter: the ceiling that keeps
-- every sum of an account's rows inside a 64-bit integer.
--
-- Each rollup row (a model's total, a day, an hour) is part of its account's
-- total, and every counter only grows, so when this row fits, every partial
-- sum a summary adds up fits too. An insert that would push it past the
-- range fails here (bigint out of range) and the request that carried it is
-- refused.
create table account_totals (
    user_id bigint not null,
    calls bigint not null,
    unpriced_calls bigint not null,
    batch_calls bigint not null,
    cost_nusd bigint not null,
    input_tokens bigint not null,
    cache_read_tokens bigint not null,
    cache_write_tokens bigint not null,
    cache_write_1h_tokens bigint not null,
    output_tokens bigint not null,
    reasoning_tokens bigint not null,
    web_search_requests bigint not null,
    created_at bigint not null,
    constraint account_totals_pkey primary key (user_id)
);

insert into account_totals (user_id, calls, unpriced_calls, batch_calls, cost_nusd, input_tokens, cache_read_tokens,
    cache_write_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens, web_search_requests, created_at)
select user_id, sum(calls), sum(unpriced_calls), sum(batch_calls), sum(cost_nusd), sum(input_tokens),
    sum(cache_read_tokens), sum(cache_write_tokens), sum(cache_write_1h_tokens), sum(output_tokens),
    sum(reasoning_tokens), sum(web_search_requests), min(created_at)
from cost_totals group by user_id;
