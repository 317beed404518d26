-- Per-request tool fees beside web searches (issue 14): Anthropic web fetches
-- (counted, free beyond tokens), OpenAI file search calls and code-interpreter
-- container sessions, Gemini prompts grounded with Google Search. Events keep
-- the counts to be priced and repriced exactly; the rollups keep their sums so
-- summaries and recommendations price the fees without scanning events.
-- SQLite turns an overflowing sum into a float: account_totals' new counters
-- carry the same integer check as its other counters.
alter table cost_events add column web_fetch_requests integer not null default 0;
alter table cost_events add column file_search_calls integer not null default 0;
alter table cost_events add column container_sessions integer not null default 0;
alter table cost_events add column grounded_prompts integer not null default 0;
alter table cost_rollups add column web_fetch_requests integer not null default 0;
alter table cost_rollups add column file_search_calls integer not null default 0;
alter table cost_rollups add column container_sessions integer not null default 0;
alter table cost_rollups add column grounded_prompts integer not null default 0;
alter table cost_daily add column web_fetch_requests integer not null default 0;
alter table cost_daily add column file_search_calls integer not null default 0;
alter table cost_daily add column container_sessions integer not null default 0;
alter table cost_daily add column grounded_prompts integer not null default 0;
alter table cost_totals add column web_fetch_requests integer not null default 0;
alter table cost_totals add column file_search_calls integer not null default 0;
alter table cost_totals add column container_sessions integer not null default 0;
alter table cost_totals add column grounded_prompts integer not null default 0;
alter table account_totals add column web_fetch_requests integer not null default 0 check (typeof(web_fetch_requests) = 'integer');
alter table account_totals add column file_search_calls integer not null default 0 check (typeof(file_search_calls) = 'integer');
alter table account_totals add column container_sessions integer not null default 0 check (typeof(container_sessions) = 'integer');
alter table account_totals add column grounded_prompts integer not null default 0 check (typeof(grounded_prompts) = 'integer');
