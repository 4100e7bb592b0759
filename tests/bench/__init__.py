"""Throughput and latency benchmark of the measurement path (``make bench``).

Three ways of putting the same rows into PostgreSQL are measured side by side:

(a) the raw limit: binary COPY of pre-built data straight into ``measurements``;
(b) the Go original's method: ``INSERT ... SELECT * FROM unnest(...) ON CONFLICT DO NOTHING``
    in slices of 25,000 rows into a table whose UNIQUE (sensor_id, time) index made it
    idempotent;
(c) the full pipeline: a publisher with confirms -> RabbitMQ -> real ``measurements-ingester``
    processes -> ledger claim + COPY in one transaction.

It also measures publish-to-commit latency at 50%, 65% and 80% of the pipeline's peak rate
and breaks one ingester flush down into its steps. Everything runs in a throw-away database
and vhost. The command fails only on errors, never because of a number.
"""
