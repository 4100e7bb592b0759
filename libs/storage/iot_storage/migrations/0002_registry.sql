-- Plain tables, identical in both flavours: bookkeeping, the sensor registry and the batch ledger.

-- Facts about this database that the code may need; the runner records 'flavor' here
-- ('timescaledb' or 'postgresql') once and never changes it.
CREATE TABLE storage_info (
    key text PRIMARY KEY,
    value text NOT NULL
);

-- How long iot_maintain() keeps rows. Operators may UPDATE it; the TimescaleDB flavour only
-- reads the measurement_batches row (its own policies drop measurement and log chunks).
CREATE TABLE retention_policies (
    table_name text PRIMARY KEY,
    keep interval NOT NULL CHECK (keep > interval '0')
);
INSERT INTO retention_policies (table_name, keep) VALUES
    ('measurements', interval '30 days'),
    ('sensor_logs', interval '30 days'),
    ('measurement_batches', interval '30 days');

CREATE TABLE targets (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The serial check mirrors iot_routing.serials: a serial is a word of AMQP routing keys.
CREATE TABLE sensors (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    serial_number text NOT NULL UNIQUE
        CHECK (serial_number ~ '^[A-Za-z0-9-]{1,64}$' AND serial_number ~ '[A-Za-z]'),
    kind text NOT NULL DEFAULT 'unspecified',
    sample_frequency_hz double precision NOT NULL CHECK (sample_frequency_hz > 0),
    target_id integer REFERENCES targets (id) ON DELETE SET NULL,
    firmware_version text,
    boot_id text,
    booted_at timestamptz,
    self_test text,
    registered_at timestamptz NOT NULL DEFAULT now(),
    -- '-infinity' until the first metadata message, so any real timestamp is newer.
    metadata_updated_at timestamptz NOT NULL DEFAULT '-infinity'
);
-- The foreign key's referencing side, so deleting a target does not scan every sensor.
CREATE INDEX sensors_target_id_idx ON sensors (target_id);

-- The idempotency ledger: one row per stored batch. The ingester inserts the batch row and
-- its measurements in one transaction; a redelivered batch conflicts on the primary key and
-- is skipped, so measurements need neither a unique index nor a foreign key.
CREATE TABLE measurement_batches (
    sensor_id integer NOT NULL REFERENCES sensors (id) ON DELETE CASCADE,
    sequence bigint NOT NULL,
    first_sample_time timestamptz NOT NULL,
    sample_count integer NOT NULL CHECK (sample_count >= 0),
    sample_rate_hz double precision NOT NULL CHECK (sample_rate_hz > 0),
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sensor_id, sequence)
);
-- iot_maintain() prunes the ledger by received_at.
CREATE INDEX measurement_batches_received_at_idx ON measurement_batches (received_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON targets, sensors TO iot_app;
GRANT SELECT, INSERT ON measurement_batches TO iot_app;
GRANT SELECT ON storage_info, retention_policies, targets, sensors, measurement_batches
    TO iot_readonly;
