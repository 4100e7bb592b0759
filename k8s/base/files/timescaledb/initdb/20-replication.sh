#!/usr/bin/env bash
# A role for streaming read replicas, made only when IOT_DB_REPLICATION_PASSWORD is set.
#
# Runs after 10-iot-roles.sh in /docker-entrypoint-initdb.d. Creates iot_replicator (LOGIN
# REPLICATION, nothing else) and, inside the container, lets it stream from any address with
# its password: replication connections match only pg_hba.conf lines naming the `replication`
# database, which the image's catch-all line does not. compose's `replica` profile
# (replica-entrypoint.sh) clones the primary as this role. No `exit` on the normal paths: the
# entrypoint sources, rather than runs, a script that lost its executable bit.
set -euo pipefail

if [[ -z "${IOT_DB_REPLICATION_PASSWORD:-}" ]]; then
    echo "20-replication.sh: IOT_DB_REPLICATION_PASSWORD is not set; no replication role"
else
    PGUSER="${PGUSER:-${POSTGRES_USER:-postgres}}" psql --no-psqlrc --quiet \
        --set ON_ERROR_STOP=1 --dbname "${IOT_DB_MAINTENANCE_DB:-postgres}" <<'SQL'
\getenv replication_password IOT_DB_REPLICATION_PASSWORD
DO $$
BEGIN
    CREATE ROLE iot_replicator NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
SELECT format('ALTER ROLE iot_replicator LOGIN REPLICATION NOCREATEROLE NOCREATEDB PASSWORD %L',
              :'replication_password') \gexec
SQL
    # Only on the image's first start, where PGDATA is the new data directory of this server.
    hba="${PGDATA:-}/pg_hba.conf"
    if [[ -n "${PGDATA:-}" && -w "$hba" ]] \
        && ! grep -q '^host[[:space:]]\+replication[[:space:]]\+iot_replicator' "$hba"; then
        echo "host replication iot_replicator all scram-sha-256" >>"$hba"
        echo "20-replication.sh: iot_replicator may stream from any address with its password"
    fi
fi
