"""Developer tooling: `iot-dev` (the whole stack on one machine) and the protobuf generator."""
