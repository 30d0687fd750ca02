-- PostgreSQL roles of the warehouse; applied by observatoire.warehouse.apply_roles(engine),
-- never by `migrate`: run it once per database as an administrator, connected as the role
-- that runs the migrations (its future tables and views get the grants below).
-- Both roles are group roles (NOLOGIN): grant them to login users, e.g.
--   CREATE ROLE ars_ara_analyste LOGIN PASSWORD '…' IN ROLE observatoire_analyste;
-- observatoire_chargeur: the pipeline (migrations, loads): reads and writes every table.
-- observatoire_analyste: analysts and ARS correspondents: reads tables and views, writes nothing.

-- Roles are cluster-wide: another database of the same server may have created them
-- (or be creating them right now, hence duplicate_object is not an error).
DO $$
BEGIN
    BEGIN
        CREATE ROLE observatoire_chargeur NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
    BEGIN
        CREATE ROLE observatoire_analyste NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO observatoire_chargeur', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO observatoire_analyste', current_database());
END
$$;

GRANT USAGE, CREATE ON SCHEMA public TO observatoire_chargeur;
GRANT USAGE ON SCHEMA public TO observatoire_analyste;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO observatoire_chargeur;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO observatoire_analyste;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public FROM observatoire_analyste;

-- Tables and views created later (new migrations; views are re-created on every run) by
-- the role running this file or by observatoire_chargeur get the same grants.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO observatoire_chargeur;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO observatoire_analyste;
ALTER DEFAULT PRIVILEGES FOR ROLE observatoire_chargeur IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO observatoire_chargeur;
ALTER DEFAULT PRIVILEGES FOR ROLE observatoire_chargeur IN SCHEMA public
    GRANT SELECT ON TABLES TO observatoire_analyste;
