-- Alerts that reach people (issue 16): the channels an account sends alerts
-- to, the alerts themselves (an outbox, written in the transaction of what
-- raised them), and one delivery row per alert and channel that the
-- delivery worker claims, sends and retries.

-- Where an account's alerts go. The URL or address and a webhook's signing
-- secret are sealed with the server key (`v1:<key id>:<base64>`); only a
-- hint of the target is kept in clear.
create table alert_channels (
    id integer primary key,
    user_id integer not null references users (id),
    -- webhook | slack | discord | email
    kind text not null,
    name text,
    target_hint text not null,
    target_sealed text not null,
    secret_sealed text,
    created_at integer not null
);
create index alert_channels_user on alert_channels (user_id);

-- One alert. `dedupe_key` makes each alert happen once (per budget,
-- threshold and period; per model; per day); `facts` is the JSON of what
-- happened, with the figures, from which every channel's message is written.
create table alerts (
    id text primary key,
    user_id integer not null references users (id),
    kind text not null,
    dedupe_key text not null,
    facts text not null,
    created_at integer not null,
    constraint alerts_once unique (user_id, dedupe_key)
);
create index alerts_user_newest on alerts (user_id, created_at);

-- One alert's delivery to one channel. A worker claims a due row by moving
-- `next_attempt_at` a lease ahead (so a replica that dies mid-send leaves it
-- to another), then records the outcome: delivered, or the next attempt.
create table alert_deliveries (
    id integer primary key,
    alert_id text not null references alerts (id) on delete cascade,
    user_id integer not null references users (id),
    channel_id integer references alert_channels (id) on delete set null,
    channel_kind text not null,
    target_hint text not null,
    -- pending | delivered | failed
    state text not null default 'pending',
    attempts integer not null default 0,
    next_attempt_at integer not null,
    last_status_code integer,
    last_error text,
    last_attempt_at integer,
    delivered_at integer
);
create index alert_deliveries_due on alert_deliveries (next_attempt_at) where state = 'pending';
create index alert_deliveries_alert on alert_deliveries (alert_id);

-- Which alerts a budget already raised this period (`80,100,forecast,stop`),
-- read and written under the row lock the event's addition takes.
alter table budget_spend add column alerted text not null default '';
