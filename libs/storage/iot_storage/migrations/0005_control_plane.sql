-- The control plane: desired and reported sensor state, presence, commands, API keys and target
-- locations. Identical in both flavours: these tables are small and relational.

-- Where a target (a pump, a bridge) stands; both coordinates or neither. Plain columns rather
-- than PostGIS, which neither flavour is guaranteed to have.
ALTER TABLE targets
    ADD COLUMN latitude double precision CHECK (latitude BETWEEN -90 AND 90),
    ADD COLUMN longitude double precision CHECK (longitude BETWEEN -180 AND 180),
    ADD CONSTRAINT targets_location_both_or_neither CHECK ((latitude IS NULL) = (longitude IS NULL));

-- Desired state: what operators asked for, written by the api-gateway with each command (NULL
-- until someone asks). Reported state: what the sensor last said it does, from its registration,
-- command acknowledgements and heartbeats; sensors.sample_frequency_hz is the reported frequency.
-- reported_at is the sensor's own timestamp of that report, so an older report delivered late
-- never overwrites a newer one.
ALTER TABLE sensors
    ADD COLUMN desired_asleep boolean,
    ADD COLUMN desired_sample_frequency_hz double precision
        CHECK (desired_sample_frequency_hz > 0),
    ADD COLUMN desired_at timestamptz,
    ADD COLUMN reported_asleep boolean NOT NULL DEFAULT false,
    ADD COLUMN reported_at timestamptz NOT NULL DEFAULT '-infinity',
    -- Presence: when the last heartbeat was sent (the sensor's time, capped at the server's, so
    -- a late redelivery cannot make a silent sensor look alive) and the interval the sensor
    -- promised for the next one.
    ADD COLUMN last_heartbeat_at timestamptz,
    ADD COLUMN heartbeat_interval_s double precision CHECK (heartbeat_interval_s > 0);

-- "Last measurement" comes from the batch ledger the ingester writes anyway, so presence costs
-- the ingest path one index entry per batch rather than an UPDATE of the sensor row per flush.
CREATE INDEX measurement_batches_sensor_received_idx
    ON measurement_batches (sensor_id, received_at);

-- One row per command to one sensor. A request to a target or to all sensors creates one row
-- per sensor, sharing request_id.
--   pending    recorded, published (or being published) to the sensor's queue
--   delivered  the sensor acknowledged taking it; an outcome follows
--   applied / rejected / expired   the sensor's outcome (acked_at set), final
--   expired    also set by the sweep when no outcome arrived by expires_at plus a grace period
--              (acked_at NULL): a late outcome from the sensor still replaces it
--   failed     the broker did not confirm the publish; the sensor never got it
CREATE TABLE commands (
    id uuid PRIMARY KEY,
    request_id uuid NOT NULL,
    sensor_id integer NOT NULL REFERENCES sensors (id) ON DELETE CASCADE,
    action text NOT NULL CHECK (action IN ('sleep', 'awake', 'change_sample_frequency')),
    sample_frequency_hz double precision CHECK (sample_frequency_hz > 0),
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'applied', 'rejected', 'expired', 'failed')),
    reason text,
    issued_by text NOT NULL,
    issued_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    delivered_at timestamptz,
    -- When the outcome was decided: the sensor's acknowledgement time, or the sweep's time.
    completed_at timestamptz,
    -- The sensor's own time of its outcome acknowledgement; NULL when the server decided.
    acked_at timestamptz,
    reported_asleep boolean,
    reported_sample_frequency_hz double precision,
    CHECK ((action = 'change_sample_frequency') = (sample_frequency_hz IS NOT NULL)),
    CHECK (expires_at > issued_at)
);
CREATE INDEX commands_sensor_issued_idx ON commands (sensor_id, issued_at DESC);
CREATE INDEX commands_request_idx ON commands (request_id);
-- The expiry sweep looks only at open commands.
CREATE INDEX commands_open_expires_idx ON commands (expires_at)
    WHERE status IN ('pending', 'delivered');

-- API keys are stored only as SHA-256 hashes. The keys are 256-bit random secrets, so a fast
-- hash is enough (there is no dictionary to try); the prefix is a public, unique handle used to
-- find the row and to name the key in listings and logs.
CREATE TABLE api_keys (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    prefix text NOT NULL UNIQUE CHECK (prefix ~ '^[a-z0-9]{12}$'),
    secret_hash bytea NOT NULL CHECK (length(secret_hash) = 32),
    role text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz
);

GRANT SELECT, INSERT, UPDATE ON commands TO iot_app;
-- Keys are never deleted through the application (revocation keeps the audit trail), and the
-- application can change only revocation and last use.
GRANT SELECT, INSERT ON api_keys TO iot_app;
GRANT UPDATE (revoked_at, last_used_at) ON api_keys TO iot_app;
-- Dashboards may see commands, never key hashes.
GRANT SELECT ON commands TO iot_readonly;
