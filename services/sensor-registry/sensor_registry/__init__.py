"""sensor-registry: one row per sensor (registrations, reported state, presence from heartbeats)
and command status from the sensors' acknowledgements; see the README."""
