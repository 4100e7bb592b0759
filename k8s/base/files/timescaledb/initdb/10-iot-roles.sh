#!/usr/bin/env bash
# Roles and database of the IoT platform, made once by the database superuser.
#
# The official postgres/timescaledb images run this from /docker-entrypoint-initdb.d on the
# first start of an empty data directory (as the postgres OS user, over the local socket); the
# Kubernetes StatefulSet mounts the same file. It can also be run by hand against any server:
# libpq's PG* variables (PGHOST, PGPORT, PGUSER, ...) say where, and it is idempotent, so a
# second run only resets the passwords and privileges.
#
# Environment:
#   IOT_DB_OWNER_PASSWORD     iot_owner: owns the database and its schema, runs `iot-db migrate`
#   IOT_DB_APP_PASSWORD       iot_app: what the services connect as
#   IOT_DB_READONLY_PASSWORD  iot_readonly: Grafana and ad-hoc queries
#   IOT_DB_MONITOR_PASSWORD   iot_monitor: member of pg_monitor, for exporters and monitoring
#   IOT_DB_NAME               the database to create (default: iot)
#
# Every password is required: a role that may log in without one would be open to anyone
# reaching the server wherever its pg_hba.conf says "trust" or a default is forgotten.
# Passwords reach psql through the environment (\getenv), never through its command line, which
# other users of the machine could read in the process list, and are quoted by format(%L).
set -euo pipefail

db_name="${IOT_DB_NAME:-iot}"
# In the container the superuser is POSTGRES_USER; elsewhere PGUSER or the OS user decides.
export PGUSER="${PGUSER:-${POSTGRES_USER:-postgres}}"

missing=()
for variable in IOT_DB_OWNER_PASSWORD IOT_DB_APP_PASSWORD IOT_DB_READONLY_PASSWORD \
    IOT_DB_MONITOR_PASSWORD; do
    if [[ -z "${!variable:-}" ]]; then
        missing+=("$variable")
    fi
done
if ((${#missing[@]} > 0)); then
    echo "10-iot-roles.sh: refusing to create roles without passwords; set ${missing[*]}" >&2
    exit 1
fi

psql_run() {
    psql --no-psqlrc --quiet --set ON_ERROR_STOP=1 --set db_name="$db_name" "$@"
}

echo "10-iot-roles.sh: roles iot_owner, iot_app, iot_readonly, iot_monitor; database $db_name"

# Cluster-wide part, from the maintenance database.
psql_run --dbname "${IOT_DB_MAINTENANCE_DB:-postgres}" <<'SQL'
\getenv owner_password IOT_DB_OWNER_PASSWORD
\getenv app_password IOT_DB_APP_PASSWORD
\getenv readonly_password IOT_DB_READONLY_PASSWORD
\getenv monitor_password IOT_DB_MONITOR_PASSWORD

-- Roles are shared by every database of the server, and `iot-db migrate` creates iot_app and
-- iot_readonly too (migration 0001): whoever comes second finds the role there.
DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['iot_owner', 'iot_app', 'iot_readonly', 'iot_monitor'] LOOP
        BEGIN
            EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END LOOP;
END
$$;

-- CREATEROLE because migration 0001 creates roles and the runner gives them LOGIN and their
-- passwords. Nothing else: the owner is not a superuser and cannot create databases.
SELECT format('ALTER ROLE iot_owner LOGIN CREATEROLE NOCREATEDB NOSUPERUSER NOREPLICATION'
              ' NOBYPASSRLS PASSWORD %L', :'owner_password') \gexec
SELECT format('ALTER ROLE iot_app LOGIN NOCREATEROLE NOCREATEDB PASSWORD %L',
              :'app_password') \gexec
SELECT format('ALTER ROLE iot_readonly LOGIN NOCREATEROLE NOCREATEDB PASSWORD %L',
              :'readonly_password') \gexec
SELECT format('ALTER ROLE iot_monitor LOGIN NOCREATEROLE NOCREATEDB PASSWORD %L',
              :'monitor_password') \gexec
-- pg_monitor: every session's pg_stat_activity row, pg_stat_* views and size functions, which
-- exporters read, and nothing of the data itself.
SELECT 'GRANT pg_monitor TO iot_monitor'
WHERE NOT pg_has_role('iot_monitor', 'pg_monitor', 'MEMBER') \gexec

-- From PostgreSQL 16, CREATEROLE alone no longer lets iot_owner alter roles it did not create
-- (here the superuser created them): it needs ADMIN on each, which the migration runner uses
-- to set their passwords. INHERIT/SET FALSE: administering is all the owner gets of them.
SELECT current_setting('server_version_num')::int >= 160000 AS role_admin_needed \gset
\if :role_admin_needed
GRANT iot_app, iot_readonly TO iot_owner WITH ADMIN OPTION, INHERIT FALSE, SET FALSE;
\endif

SELECT format('CREATE DATABASE %I OWNER iot_owner', :'db_name')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db_name') \gexec
SELECT format('ALTER DATABASE %I OWNER TO iot_owner', :'db_name') \gexec
-- Only the platform's roles may connect (the owner always may). The migration runner repeats
-- this for iot_app and iot_readonly on every run, because a restored database lacks it.
SELECT format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC', :'db_name') \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO iot_app, iot_readonly, iot_monitor',
              :'db_name') \gexec
SQL

# Inside the new database.
psql_run --dbname "$db_name" <<'SQL'
-- The extension needs a superuser to create; the TimescaleDB migrations then find it there
-- (their CREATE EXTENSION IF NOT EXISTS does nothing). A plain PostgreSQL server has no such
-- extension, and the migration runner picks its plain-PostgreSQL flavour.
SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'timescaledb') AS has_timescaledb
\gset
\if :has_timescaledb
CREATE EXTENSION IF NOT EXISTS timescaledb;
\endif

-- The owner creates the schema's objects; nobody else may create anything in it. The roles
-- may look names up in it (migration 0001 grants the same): before the first migration, the
-- services' `iot-db wait-for-schema` then sees "no ledger yet" rather than a permission error.
ALTER SCHEMA public OWNER TO iot_owner;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO iot_app, iot_readonly;
SQL

echo "10-iot-roles.sh: done"
