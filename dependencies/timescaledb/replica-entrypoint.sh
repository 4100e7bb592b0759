#!/usr/bin/env bash
# Entry point of a streaming read replica of the `timescaledb` service (compose profile
# `replica`). Runs as the postgres OS user in the same image as the primary.
#
# On an empty data directory it clones the primary with pg_basebackup as iot_replicator
# (password in PGPASSWORD) and writes standby.signal plus primary_conninfo (-R); afterwards it
# just starts the server, which resumes streaming where it stopped. Without a replication slot
# the primary keeps wal_keep_size of WAL for a replica that falls behind; one that falls further
# behind must be re-cloned (remove its volume).
set -euo pipefail

: "${PGDATA:?PGDATA must name the data directory}"
primary_host="${IOT_DB_PRIMARY_HOST:-timescaledb}"

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    echo "replica: cloning $primary_host into $PGDATA"
    until pg_isready --quiet --host "$primary_host" --port 5432; do
        sleep 2
    done
    pg_basebackup --host "$primary_host" --port 5432 --username iot_replicator \
        --pgdata "$PGDATA" --wal-method stream --write-recovery-conf --checkpoint fast \
        --no-password --progress
fi
chmod 0700 "$PGDATA"
exec postgres "$@"
