"""sensor-registry: registrations from sensor.all.registry.created -> one row per sensor."""
