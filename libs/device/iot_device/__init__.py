"""Device side of session joins: a client library and the iot-device console command."""
