"""Record pongs: each batch marks every device that answered as seen, in one statement.

A fleet answers every ping round at once, so pongs come in bursts of one per device; a batch
collapses repeats of a device into one row update. Pongs of devices with no row are acked and
counted, not stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from join_dispatcher.metrics import DispatcherMetrics
from join_dispatcher.presence import touch_devices


class PongStore:
    """The batch handler of device.all.pongs.presence; items are the answering device ids."""

    def __init__(self, pool: Any, metrics: DispatcherMetrics, log: Any) -> None:
        self._pool = pool
        self._metrics = metrics
        self._log = log

    async def __call__(self, device_ids: Sequence[str]) -> None:
        async with self._pool.acquire() as connection:
            known = await touch_devices(connection, device_ids)
        heard = sum(1 for device in device_ids if device in known)
        self._metrics.pongs.inc(heard)
        self._metrics.pongs_unknown.inc(len(device_ids) - heard)
        unknown = sorted(set(device_ids) - known)
        if unknown:
            self._log.info("pongs of unknown devices ignored", device_ids=unknown)
        self._log.debug("pongs stored", pongs=len(device_ids), devices=len(known))
