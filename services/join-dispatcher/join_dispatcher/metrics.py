"""The dispatcher's own metrics (iot_<name>, service="join-dispatcher"), made once per process.

Several parts count the same thing (dispatching a late request and the sweep both expire
deliveries), and a registry refuses a name twice, so they share this one set.
"""

from __future__ import annotations

from iot_service import ServiceMetrics

from join_dispatcher.status import FAILED, JOINED, RECEIVED


class DispatcherMetrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        self.requests_dispatched = metrics.counter(
            "join_requests_dispatched", "Join requests whose every JOIN the broker confirmed"
        )
        self.requests_ignored = metrics.counter(
            "join_requests_ignored",
            "Join request messages acked without effect (unknown, or already settled)",
            ["reason"],
        )
        self.requests_closed = metrics.counter(
            "join_requests_closed",
            "Join requests closed at their deadline: by the sweep, or late (arrived after it)",
            ["by"],
        )
        self.joins_published = metrics.counter("joins_published", "JOINs the broker confirmed")
        self.joins_unconfirmed = metrics.counter(
            "joins_unconfirmed", "JOIN publishes the broker did not confirm (they are retried)"
        )
        self.deliveries_expired = metrics.counter(
            "deliveries_expired", "Targeted devices with no outcome by the deadline"
        )
        self.acks = metrics.counter(
            "join_acks", "Acknowledgements of known deliveries, by what they say", ["status"]
        )
        self.acks_unknown = metrics.counter(
            "join_acks_unknown", "Acknowledgements for a request or device with no delivery row"
        )
        self.deliveries_updated = metrics.counter(
            "deliveries_updated",
            "Delivery rows changed by acknowledgements, by new status",
            ["status"],
        )
        self.pongs = metrics.counter("pongs_recorded", "Pongs of known devices")
        self.pongs_unknown = metrics.counter(
            "pongs_unknown_device", "Pongs of devices with no row (ignored)"
        )
        self.pings_published = metrics.counter(
            "pings_published", "Pings the broker confirmed (one per device group and round)"
        )
        self.ping_failures = metrics.counter("ping_failures", "Pings the broker did not confirm")
        # Exported (as 0) before the first acknowledgement of each kind.
        for status in (RECEIVED, JOINED, FAILED):
            self.acks.labels(status=status)
