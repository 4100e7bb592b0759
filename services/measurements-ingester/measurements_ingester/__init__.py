"""measurements-ingester: the hot path from sensor.all.measurements.db_writer into PostgreSQL."""
