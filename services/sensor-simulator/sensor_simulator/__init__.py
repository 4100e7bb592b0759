"""A simulated accelerometer that boots, registers itself and streams measurement batches.

Pure rules (signal model, sample clock, batching, sequence numbers, sensor state, message
building) live in modules that do no I/O, so they are unit-tested with explicit times;
`app` and `__main__` wire them to RabbitMQ, the health server and the process signals.
"""

SERVICE = "sensor-simulator"
