"""Reading measurements and logs with limits that protect the database."""

from __future__ import annotations

from datetime import timedelta

from api_gateway.models import LogLevel

MAX_RAW_ROWS = 100_000
MAX_BUCKETS = 10_000
MAX_RANGE = timedelta(days=31)
LEVELS_FROM = {
    LogLevel.DEBUG: ["debug", "unspecified", "info", "warning", "error"],
    LogLevel.INFO: ["info", "warning", "error"],
    LogLevel.WARNING: ["warning", "error"],
    LogLevel.ERROR: ["error"],
}

# One row more than the limit tells whether the answer was truncated.
RAW = """
SELECT time, value FROM measurements
WHERE sensor_id = $1 AND time >= $2 AND time < $3
ORDER BY time LIMIT $4
"""
# Buckets start at `since`, so the first bucket is whole.
BUCKETS = """
SELECT date_bin($4::interval, time, $2) AS time, min(value) AS min, max(value) AS max,
       avg(value) AS avg, count(*) AS count
FROM measurements
WHERE sensor_id = $1 AND time >= $2 AND time < $3
GROUP BY 1 ORDER BY 1
"""
LATEST = "SELECT time, value FROM measurements WHERE sensor_id = $1 ORDER BY time DESC LIMIT 1"
LOGS = """
SELECT time, sequence, level, message FROM sensor_logs
WHERE sensor_id = $1 AND time >= $2 AND time < $3 AND level = ANY($4::text[])
ORDER BY time, sequence LIMIT $5
"""
