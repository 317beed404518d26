-- Per-request tool fees beside web searches (issue 14): Anthropic web fetches
-- (counted, free beyond tokens), OpenAI file search calls and code-interpreter
-- container sessions, Gemini prompts grounded with Google Search. Events keep
-- the counts to be priced and repriced exactly; the rollups keep their sums so
-- summaries and recommendations price the fees without scanning events.
alter table cost_events add column web_fetch_requests bigint not null default 0;
alter table cost_events add column file_search_calls bigint not null default 0;
alter table cost_events add column container_sessions bigint not null default 0;
alter table cost_events add column grounded_prompts bigint not null default 0;
alter table cost_rollups add column web_fetch_requests bigint not null default 0;
alter table cost_rollups add column file_search_calls bigint not null default 0;
alter table cost_rollups add column container_sessions bigint not null default 0;
alter table cost_rollups add column grounded_prompts bigint not null default 0;
alter table cost_daily add column web_fetch_requests bigint not null default 0;
alter table cost_daily add column file_search_calls bigint not null default 0;
alter table cost_daily add column container_sessions bigint not null default 0;
alter table cost_daily add column grounded_prompts bigint not null default 0;
alter table cost_totals add column web_fetch_requests bigint not null default 0;
alter table cost_totals add column file_search_calls bigint not null default 0;
alter table cost_totals add column container_sessions bigint not null default 0;
alter table cost_totals add column grounded_prompts bigint not null default 0;
alter table account_totals add column web_fetch_requests bigint not null default 0;
alter table account_totals add column file_search_calls bigint not null default 0;
alter table account_totals add column container_sessions bigint not null default 0;
alter table account_totals add column grounded_prompts bigint not null default 0;
