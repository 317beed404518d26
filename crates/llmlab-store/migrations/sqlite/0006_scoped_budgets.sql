-- Budgets with a scope and a period (issue 15), counted as events are
-- stored, and the holds hard budgets place on calls in flight.

-- The seed's one budget per account becomes one row among many: the
-- account's monthly budget, hard if the account's hard-budget flag was on.
alter table budgets rename to budgets_seed;

create table budgets (
    id integer primary key,
    user_id integer not null references users (id),
    -- account | project | key | tag
    scope text not null,
    -- '' for account; the project name; the key's public id (`llm_…`); `key=value` for a tag.
    target text not null,
    -- day | week | month | total
    period text not null,
    amount_nusd integer not null,
    hard integer not null default 0,
    -- Warning percentages, ascending, comma-separated (`80,100`).
    thresholds text not null default '80,100',
    created_at integer not null,
    updated_at integer not null,
    constraint budgets_scope_period_key unique (user_id, scope, target, period)
);

insert into budgets (user_id, scope, target, period, amount_nusd, hard, created_at, updated_at)
select b.user_id, 'account', '', 'month', b.amount_nusd, u.hard_budget, b.created_at, b.updated_at
from budgets_seed b join users u on u.id = b.user_id;

drop table budgets_seed;

-- What a budget has counted in one period (`period_key`: the period's first
-- local day, or `total`), and what calls in flight hold against it. Kept by
-- the event writer in the events' own transaction.
create table budget_spend (
    budget_id integer not null references budgets (id) on delete cascade,
    period_key text not null,
    spent_nusd integer not null default 0,
    reserved_nusd integer not null default 0,
    unpriced_calls integer not null default 0,
    constraint budget_spend_pkey primary key (budget_id, period_key)
);

-- One hold of a call on one hard budget. Recording the call's event (or
-- the hold's expiry) deletes the row and subtracts it from `reserved_nusd`.
create table budget_reservations (
    id text not null,
    budget_id integer not null references budgets (id) on delete cascade,
    user_id integer not null references users (id),
    period_key text not null,
    amount_nusd integer not null,
    created_at integer not null,
    expires_at integer not null,
    constraint budget_reservations_pkey primary key (id, budget_id)
);
create index budget_reservations_expiry on budget_reservations (expires_at);

-- The public id (`llm_…`) of the API key an event was recorded with.
alter table cost_events add column api_key text;
