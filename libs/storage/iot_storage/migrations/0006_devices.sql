-- Session devices: projects, device groups, devices with broker credentials, join requests and
-- each device's answer. Identical in both flavours: these tables are small and relational.

-- Project and group ids are routing-key words (iot_routing.validate_slug).
CREATE TABLE projects (
    id text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$' AND id <> 'all'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE device_groups (
    project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,62}$' AND name <> 'all'),
    comments text NOT NULL DEFAULT '' CHECK (length(comments) <= 2000),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, name)
);

-- A device's id is also its broker user name. Its credential is a 256-bit random secret shown
-- once at registration (and at each rotation); only its SHA-256 is kept, which is enough for a
-- secret with no dictionary to try. A revoked device keeps its row (and its join history).
CREATE TABLE devices (
    id text PRIMARY KEY CHECK (id ~ '^dev-[a-z0-9]{16}$'),
    project_id text NOT NULL,
    group_name text NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    comments text NOT NULL DEFAULT '' CHECK (length(comments) <= 2000),
    registered_at timestamptz NOT NULL DEFAULT now(),
    secret_hash bytea NOT NULL CHECK (length(secret_hash) = 32),
    credential_rotated_at timestamptz,
    revoked_at timestamptz,
    -- Presence: when the device last answered (a pong or a join acknowledgement), by the
    -- server's clock.
    last_seen_at timestamptz,
    FOREIGN KEY (project_id, group_name) REFERENCES device_groups (project_id, name),
    UNIQUE (project_id, name)
);
CREATE INDEX devices_group_idx ON devices (project_id, group_name) WHERE revoked_at IS NULL;

-- One row per "make this group join that session".
--   pending     recorded; handed to the broker for the join-dispatcher
--   dispatched  the dispatcher resolved the group and published one JOIN per device
--   closed      the deadline passed: every device has joined, failed or expired
--   failed      the broker did not confirm the hand-over; no device was asked
CREATE TABLE join_requests (
    id uuid PRIMARY KEY,
    project_id text NOT NULL,
    group_name text NOT NULL,
    session_id text NOT NULL CHECK (length(session_id) BETWEEN 1 AND 200),
    session_name text NOT NULL CHECK (length(session_name) BETWEEN 1 AND 200),
    session_metadata jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(session_metadata) = 'object'),
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'dispatched', 'closed', 'failed')),
    reason text,
    requested_by text NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    deadline timestamptz NOT NULL,
    dispatched_at timestamptz,
    closed_at timestamptz,
    FOREIGN KEY (project_id, group_name) REFERENCES device_groups (project_id, name),
    CHECK (deadline > requested_at)
);
CREATE INDEX join_requests_group_idx ON join_requests (project_id, group_name, requested_at DESC);
-- The deadline sweep looks only at requests still open.
CREATE INDEX join_requests_open_deadline_idx ON join_requests (deadline)
    WHERE status IN ('pending', 'dispatched');

-- One row per device targeted by a request (the group's unrevoked devices at dispatch time).
--   pending    JOIN published to the device's queue
--   delivered  the device acknowledged receiving it; an outcome follows
--   joined / failed   the device's outcome (answered_at set), final
--   expired    no outcome by the deadline (set by the sweep; a device outcome sent before the
--              deadline but arriving late still replaces it)
CREATE TABLE join_deliveries (
    request_id uuid NOT NULL REFERENCES join_requests (id) ON DELETE CASCADE,
    device_id text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'joined', 'failed', 'expired')),
    reason text,
    published_at timestamptz,
    delivered_at timestamptz,
    -- The device's own time of its outcome; NULL when the server decided (expired).
    answered_at timestamptz,
    PRIMARY KEY (request_id, device_id)
);
CREATE INDEX join_deliveries_device_idx ON join_deliveries (device_id);

GRANT SELECT, INSERT ON projects, device_groups TO iot_app;
GRANT UPDATE (name) ON projects TO iot_app;
GRANT UPDATE (comments) ON device_groups TO iot_app;
-- Devices are revoked, never deleted, through the application; the hash changes only on rotation.
GRANT SELECT, INSERT ON devices TO iot_app;
GRANT UPDATE (name, comments, secret_hash, credential_rotated_at, revoked_at, last_seen_at)
    ON devices TO iot_app;
GRANT SELECT, INSERT, UPDATE ON join_requests, join_deliveries TO iot_app;
-- Dashboards may see everything but credential hashes.
GRANT SELECT ON projects, device_groups, join_requests, join_deliveries TO iot_readonly;
GRANT SELECT (id, project_id, group_name, name, comments, registered_at, credential_rotated_at,
              revoked_at, last_seen_at)
    ON devices TO iot_readonly;
