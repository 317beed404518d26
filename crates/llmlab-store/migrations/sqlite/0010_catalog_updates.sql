-- Price catalogs loaded at run time (`llmlab prices update`), newest last.
-- The server prices with the newest one when it is newer than the catalog
-- built into its binary; the built-in one stays the default. `version` is
-- the catalog's `updated` date (YYYY-MM-DD), `catalog` the whole file.
create table catalog_updates (
    id integer primary key,
    version text not null,
    catalog text not null,
    applied_at integer not null
);
create index catalog_updates_version on catalog_updates (version, id);
