"""Metrics are iot_<name> with a service label; every log line, libraries' too, has a service."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

from iot_service import ServiceMetrics
from prometheus_client import generate_latest


def test_metrics_are_named_once_for_the_platform_and_labelled_with_their_service() -> None:
    metrics = ServiceMetrics("measurements-ingester")
    metrics.counter("messages_processed", "done", ["queue"]).labels(queue="q").inc(2)
    metrics.histogram("batch_write_seconds", "time").observe(0.2)
    metrics.gauge("sample_frequency_hz", "rate").set(5)

    text = generate_latest(metrics.registry).decode()

    assert 'iot_batch_write_seconds_count{service="measurements-ingester"} 1.0' in text
    assert 'iot_sample_frequency_hz{service="measurements-ingester"} 5.0' in text
    samples = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert samples and all('service="measurements-ingester"' in line for line in samples)
    assert (
        metrics.registry.get_sample_value(
            "iot_messages_processed_total", {"service": "measurements-ingester", "queue": "q"}
        )
        == 2
    )


def test_two_services_in_one_process_keep_apart() -> None:
    first, second = ServiceMetrics("a"), ServiceMetrics("b")
    first.counter("x", "x").inc()
    second.counter("x", "x").inc(3)
    assert first.registry.get_sample_value("iot_x_total", {"service": "a"}) == 1
    assert second.registry.get_sample_value("iot_x_total", {"service": "a"}) is None
    assert second.registry.get_sample_value("iot_x_total", {"service": "b"}) == 3


_LOGGING_CHILD = """
import logging, threading
from iot_service.logs import configure_logging
log = configure_logging("logs-ingester", fmt="json")
log.info("ours", n=1)
logging.getLogger("aiormq.connection").warning("from a library: %s", "lost")
logging.getLogger("asyncpg").info("below warning: dropped")
threading.Thread(target=lambda: log.warning("from a thread")).start()
"""


def test_every_log_line_is_json_with_the_service_field() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _LOGGING_CHILD],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [line["event"] for line in lines] == ["ours", "from a library: lost", "from a thread"]
    assert {line["service"] for line in lines} == {"logs-ingester"}
    assert all({"level", "timestamp"} <= line.keys() for line in lines)
    assert lines[1]["logger"] == "aiormq.connection"
    assert lines[1]["level"] == "warning"
    assert logging.getLogger().level == logging.WARNING  # this process's logging is untouched
