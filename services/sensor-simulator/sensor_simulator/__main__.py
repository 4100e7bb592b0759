"""Entry point of the `sensor-simulator` console script.

Wiring, top-down: settings (a bad value stops start-up with one line and exit code 2),
logger bound to the sensor's serial, metrics and the health server, the publisher, then the
simulator, its command consumer and its heartbeats under run_service, which turns
SIGTERM/SIGINT into the stop event.
"""

from __future__ import annotations

import asyncio
import sys

from iot_messaging import Publisher
from iot_routing import SERVICE_QUEUES
from iot_service import (
    Health,
    HealthServer,
    ServiceMetrics,
    configure_logging,
    load_settings,
    run_service,
)

from sensor_simulator import SERVICE
from sensor_simulator.app import Simulator
from sensor_simulator.command_consumer import CommandConsumer
from sensor_simulator.config import SimulatorSettings
from sensor_simulator.heartbeat_sender import HeartbeatSender
from sensor_simulator.metrics import SimulatorMetrics

EXIT_OK = 0
EXIT_FAILED = 1


def main() -> int:
    settings = load_settings(SimulatorSettings, SERVICE)

    log = configure_logging(SERVICE, settings.log_level, settings.log_format).bind(
        sensor=settings.sensor_serial
    )
    health = Health("amqp")
    metrics = SimulatorMetrics(ServiceMetrics(SERVICE))
    try:
        server = HealthServer(health, metrics.registry, settings.http_host, settings.http_port)
    except OSError as exc:
        log.error(
            "cannot start the health server",
            host=settings.http_host,
            port=settings.http_port,
            error=str(exc),
        )
        return EXIT_FAILED
    server.start()
    log.info("health server listening", host=settings.http_host, http_port=server.port)

    # Declaring the exchanges and the consumers' queues here means nothing is lost if they have
    # not started yet (a bare broker: make up, the tests). Where the broker's definitions create
    # them, the sensor's user has no right to, and the simulator declares only its own command
    # queue.
    publisher = Publisher(
        settings.amqp_url,
        log,
        declare=SERVICE_QUEUES if settings.declare_topology else (),
        max_delay=settings.reconnect_max_seconds,
        declare_exchanges=settings.declare_topology,
    )
    simulator = Simulator(settings, publisher, log, health, metrics)
    commands = CommandConsumer(
        settings.amqp_url,
        simulator,
        publisher,
        log,
        settings.reconnect_max_seconds,
        declare_exchanges=settings.declare_topology,
    )
    heartbeats = HeartbeatSender(simulator, publisher, log, metrics, settings.heartbeat_seconds)

    async def run(stop: asyncio.Event) -> None:
        taking_commands = asyncio.create_task(commands.run(stop))
        beating = asyncio.create_task(heartbeats.run(stop))
        await simulator.run(stop)
        stop.set()  # the simulator may also end on its own (it never does unless stopped)
        await asyncio.gather(taking_commands, beating)

    try:
        run_service(run, health)
    finally:
        server.stop()
    log.info("stopped")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
