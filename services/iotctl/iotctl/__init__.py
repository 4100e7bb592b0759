"""iotctl: the operator command line for the IoT telemetry platform."""
