-- Roles and schema-level privileges.
--
-- Roles are cluster-wide: another database on the same server may have created them already,
-- possibly at this very moment, so a duplicate is not an error. They start without LOGIN; the
-- runner grants LOGIN (with a password, or without one for local trust authentication).
--   iot_app       what the services connect as; each table grants it exactly what they need.
--   iot_readonly  dashboards and ad-hoc queries: SELECT on every table and view.
DO $$
BEGIN
    CREATE ROLE iot_app NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

DO $$
BEGIN
    CREATE ROLE iot_readonly NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

-- Nobody but the owner may create objects in public (PostgreSQL before 15 let everyone);
-- the two roles may only look names up in it.
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO iot_app, iot_readonly;

-- CONNECT on the database itself is granted by the runner on every run, not here: database
-- privileges are not copied when a database is cloned from a template or restored from a dump.

-- The runner created its bookkeeping table before this migration; dashboards may read it.
GRANT SELECT ON schema_migrations TO iot_readonly;
