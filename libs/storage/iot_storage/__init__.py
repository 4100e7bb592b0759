"""Storage on PostgreSQL (with TimescaleDB when available): schema migrations and maintenance,
and what the services need to write to it."""
