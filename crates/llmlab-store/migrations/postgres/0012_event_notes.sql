-- What pricing noted about an event (a tier other than the one requested, an
-- uplift applied or missing, a dated snapshot priced as its base model…), as a
-- JSON array of sentences; NULL when there is nothing to say.
alter table cost_events add column notes text;
