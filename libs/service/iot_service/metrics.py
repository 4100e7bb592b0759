"""One helper for metric names: iot_<service>_<name>_total and ..._seconds, everywhere alike."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
SIZE_BUCKETS = (1, 10, 100, 1_000, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000)


class ServiceMetrics:
    """Creates metrics in one registry, prefixed with the service's namespace."""

    def __init__(self, service: str, registry: CollectorRegistry | None = None) -> None:
        self.namespace = "iot_" + service.replace("-", "_")
        self.registry = registry if registry is not None else CollectorRegistry()

    def counter(self, name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
        """A counter named <namespace>_<name>_total."""
        return Counter(f"{self.namespace}_{name}", doc, labels, registry=self.registry)

    def gauge(self, name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
        """A gauge named <namespace>_<name>."""
        return Gauge(f"{self.namespace}_{name}", doc, labels, registry=self.registry)

    def histogram(
        self,
        name: str,
        doc: str,
        buckets: Sequence[float] = LATENCY_BUCKETS,
        labels: Sequence[str] = (),
    ) -> Histogram:
        """A histogram named <namespace>_<name> (use a _seconds suffix for durations)."""
        return Histogram(
            f"{self.namespace}_{name}", doc, labels, buckets=buckets, registry=self.registry
        )
