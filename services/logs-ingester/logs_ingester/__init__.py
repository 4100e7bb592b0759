"""logs-ingester: sensor log lines from sensor.all.logs -> sensor_logs (and a logfmt file)."""
