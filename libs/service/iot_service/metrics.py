"""Metric names shared by every service: iot_<name>, each sample labelled with its service.

One name per meaning across the platform (``iot_messages_processed_total`` is the same metric in
the sensor-registry and in the measurements-ingester), so a dashboard sums or splits by the
``service`` label instead of listing one metric name per service. The label is added when the
registry is scraped, so code that records a metric never repeats the service's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
SIZE_BUCKETS = (1, 10, 100, 1_000, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000)
NAMESPACE = "iot"
SERVICE_LABEL = "service"


class _ServiceLabelled(Collector):
    """Exposes the metrics of an inner registry with a service label on every sample."""

    def __init__(self, inner: CollectorRegistry, service: str) -> None:
        self._inner = inner
        self._service = service

    def collect(self) -> Iterable[Metric]:
        for family in self._inner.collect():
            labelled = Metric(family.name, family.documentation, family.type, family.unit)
            for sample in family.samples:
                labelled.add_sample(
                    sample.name,
                    {SERVICE_LABEL: self._service, **sample.labels},
                    sample.value,
                    sample.timestamp,
                    sample.exemplar,
                )
            yield labelled


class ServiceMetrics:
    """Creates the metrics of one service; `registry` is what its /metrics endpoint serves."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._own = CollectorRegistry()
        self.registry = CollectorRegistry()
        self.registry.register(_ServiceLabelled(self._own, service))

    def counter(self, name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
        """A counter exported as iot_<name>_total."""
        return Counter(f"{NAMESPACE}_{name}", doc, labels, registry=self._own)

    def gauge(self, name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
        """A gauge exported as iot_<name>."""
        return Gauge(f"{NAMESPACE}_{name}", doc, labels, registry=self._own)

    def histogram(
        self,
        name: str,
        doc: str,
        buckets: Sequence[float] = LATENCY_BUCKETS,
        labels: Sequence[str] = (),
    ) -> Histogram:
        """A histogram exported as iot_<name> (use a _seconds suffix for durations)."""
        return Histogram(f"{NAMESPACE}_{name}", doc, labels, buckets=buckets, registry=self._own)
