-- Cut-off streams (issue 14): a stream that ends before its provider's final
-- usage is priced from the last usage seen, as a lower bound. The event keeps
-- why (`partial_reason`, NULL for a complete usage), and every rollup counts
-- such calls too, so a summary knows how much of a total is a lower bound
-- ("at least $X"). Partial calls are a part of `calls`, so they fit wherever
-- `calls` does.
alter table cost_events add column partial_reason text;
alter table cost_rollups add column partial_calls integer not null default 0;
alter table cost_daily add column partial_calls integer not null default 0;
alter table cost_hourly add column partial_calls integer not null default 0;
alter table cost_totals add column partial_calls integer not null default 0;
alter table account_totals add column partial_calls integer not null default 0;
