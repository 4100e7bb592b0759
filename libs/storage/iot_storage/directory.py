"""Serial number -> sensor id, cached; unknown sensors are registered rather than dropped."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_REGISTER_UNKNOWN = """
INSERT INTO sensors (serial_number, sample_frequency_hz)
SELECT * FROM unnest($1::text[], $2::float8[])
ON CONFLICT (serial_number) DO NOTHING
"""
_LOOKUP = "SELECT serial_number, id FROM sensors WHERE serial_number = ANY($1::text[])"


class SensorDirectory:
    """Resolves serials to ids. Data from a sensor whose registration has not arrived yet (or
    was lost) is kept: the sensor row is created from what the data says, and the registry
    fills in the rest of its metadata when the registration arrives."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    async def resolve(self, connection: Any, rates: Mapping[str, float]) -> dict[str, int]:
        """Ids for every serial in rates (serial -> sample rate, used only for new sensors).

        Runs outside the caller's write transaction, so the cache only ever holds ids of
        committed rows. Serials are sorted so concurrent ingesters lock in the same order.
        """
        missing = sorted(serial for serial in rates if serial not in self._ids)
        if missing:
            await connection.execute(_REGISTER_UNKNOWN, missing, [rates[s] for s in missing])
            for serial, sensor_id in await connection.fetch(_LOOKUP, missing):
                self._ids[serial] = sensor_id
        return {serial: self._ids[serial] for serial in rates}

    def forget(self) -> None:
        """Drop the cache (after a sensor was deleted, for example)."""
        self._ids.clear()
