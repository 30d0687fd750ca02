-- PostgreSQL roles of the warehouse; applied by observatoire.warehouse.apply_roles(engine)
-- (or `psql -f` this file), never by `migrate`: an administrator (superuser, or the owner of
-- the database with CREATEROLE) runs it once per database, before or after the first load.
-- Three group roles (NOLOGIN); people and services log in as members of them:
--   CREATE ROLE etl_observatoire LOGIN PASSWORD '…' IN ROLE observatoire_chargeur;
--   CREATE ROLE ars_ara_analyste LOGIN PASSWORD '…' IN ROLE observatoire_analyste;
-- observatoire_proprietaire: owns every table and view of the schema; nobody logs in as it.
-- observatoire_chargeur: the pipeline (migrations, loads, review decisions); a member of
--   the owner role: `migrate` runs `SET LOCAL ROLE observatoire_proprietaire` (the owner of
--   `schema_migration`), so the objects it creates, views re-created on every run included,
--   keep one owner whoever loads, and the default privileges below apply to them.
-- observatoire_analyste: reads every table and view; writes nothing, not even a temporary
--   table or a large object, and cannot take the advisory locks that serialise loads.
-- The names are those of this file; apply_roles may substitute others (tests do).

-- Roles are cluster-wide: another database of the same server may have created them
-- (or be creating them right now, hence duplicate_object is not an error).
DO $$
BEGIN
    BEGIN
        CREATE ROLE observatoire_proprietaire NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
    BEGIN
        CREATE ROLE observatoire_chargeur NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
    BEGIN
        CREATE ROLE observatoire_analyste NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
END
$$;
GRANT observatoire_proprietaire TO observatoire_chargeur;

-- Connecting: both; temporary tables: nobody but superusers (PUBLIC has TEMPORARY by default).
DO $$
BEGIN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO observatoire_chargeur, observatoire_analyste',
                   current_database());
END
$$;

-- Creating in the schema: the owner only (PUBLIC had CREATE on `public` before PostgreSQL 15).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO observatoire_proprietaire;
GRANT USAGE ON SCHEMA public TO observatoire_chargeur, observatoire_analyste;

-- The migration ledger exists from now on, owned by the owner role: `migrate` reads its
-- owner to know which role to become (same definition as in observatoire/warehouse.py).
CREATE TABLE IF NOT EXISTS schema_migration (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL, checksum TEXT);

-- Every table, view and free-standing sequence already there (a warehouse loaded before the
-- roles existed, by an administrator or a former loader) passes to the owner role.
DO $$
DECLARE
    rel record;
BEGIN
    FOR rel IN
        SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                          AND d.deptype IN ('a', 'i'))
    LOOP
        EXECUTE format('ALTER %s %I OWNER TO observatoire_proprietaire',
                       CASE rel.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                           WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
                       rel.relname);
    END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO observatoire_chargeur;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO observatoire_chargeur;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO observatoire_analyste;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public
    FROM observatoire_analyste;

-- Tables and views created later by the owner role (new migrations; views are re-created on
-- every run) get the same grants.
ALTER DEFAULT PRIVILEGES FOR ROLE observatoire_proprietaire IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO observatoire_chargeur;
ALTER DEFAULT PRIVILEGES FOR ROLE observatoire_proprietaire IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO observatoire_chargeur;
ALTER DEFAULT PRIVILEGES FOR ROLE observatoire_proprietaire IN SCHEMA public
    GRANT SELECT ON TABLES TO observatoire_analyste;

-- Large objects are storage too: only superusers may create them in this database.
REVOKE EXECUTE ON FUNCTION lo_create(oid), lo_creat(integer), lo_import(text), lo_import(text, oid),
    lo_from_bytea(oid, bytea) FROM PUBLIC;

-- Advisory locks serialise runs and loads (run_lock: pg_try_advisory_lock(bigint), held by the
-- run's session; warehouse.writer_lock: pg_advisory_xact_lock(bigint)); a session holding one
-- of those keys would stop every run. Nobody takes them but the loader.
DO $$
DECLARE
    fn record;
BEGIN
    FOR fn IN
        SELECT p.oid::regprocedure AS signature FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'pg_catalog' AND (p.proname LIKE 'pg\_advisory%' OR p.proname LIKE 'pg\_try\_advisory%')
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', fn.signature);
    END LOOP;
END
$$;
GRANT EXECUTE ON FUNCTION pg_advisory_xact_lock(bigint), pg_try_advisory_lock(bigint) TO observatoire_chargeur;
