-- Audio read from the prompt cache (part of cache_read_tokens): Gemini bills
-- it above cached text, so events keep it to be priced and repriced exactly.
alter table cost_events add column cache_read_audio_tokens bigint not null default 0;
