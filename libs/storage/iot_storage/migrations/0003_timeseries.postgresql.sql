-- Time series on plain PostgreSQL: tables partitioned per UTC day.
--
-- iot_maintain() (next migration) creates the partitions from yesterday to three days ahead and
-- drops those past retention. The DEFAULT partitions catch any row no daily partition covers
-- (clock skew, late data, maintenance not yet run), so an insert never fails for lack of one.

-- Deliberately no foreign key and no unique index: the measurement_batches ledger makes
-- ingestion idempotent, and per-row checks would halve COPY throughput.
CREATE TABLE measurements (
    time timestamptz NOT NULL,
    sensor_id integer NOT NULL,
    value double precision NOT NULL
) PARTITION BY RANGE (time);
-- Ascending: new samples append at the right end of each sensor's key range, where B-tree
-- pages fill up instead of splitting in the middle; COPY measured about 20% faster than with
-- (sensor_id, time DESC), and a backward scan serves ORDER BY time DESC just as well.
CREATE INDEX measurements_sensor_id_time_idx ON measurements (sensor_id, time);
CREATE TABLE measurements_default PARTITION OF measurements DEFAULT;

CREATE TABLE sensor_logs (
    time timestamptz NOT NULL,
    sensor_id integer NOT NULL,
    sequence bigint NOT NULL,
    level text NOT NULL CHECK (level IN ('debug', 'info', 'warning', 'error', 'unspecified')),
    message text NOT NULL,
    -- Makes log ingestion idempotent (ON CONFLICT DO NOTHING); includes time, as a unique
    -- constraint on a partitioned table must include the partition key.
    UNIQUE (sensor_id, time, sequence)
) PARTITION BY RANGE (time);
-- The unique index on (sensor_id, time, sequence) also serves per-sensor time ranges.
CREATE TABLE sensor_logs_default PARTITION OF sensor_logs DEFAULT;

-- The same columns as the TimescaleDB continuous aggregate, computed on every query. The origin
-- is spelled with its offset so the buckets do not depend on the session's time zone.
CREATE VIEW measurements_1m AS
SELECT
    date_bin('1 minute', time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
    sensor_id,
    min(value) AS min,
    max(value) AS max,
    avg(value) AS avg,
    count(*) AS count
FROM measurements
GROUP BY 1, 2;

-- Rows reach the partitions through the parents, whose privileges are the ones checked.
GRANT SELECT, INSERT ON measurements, sensor_logs TO iot_app;
GRANT SELECT ON measurements_1m TO iot_app;
GRANT SELECT ON measurements, measurements_default, sensor_logs, sensor_logs_default,
    measurements_1m TO iot_readonly;
