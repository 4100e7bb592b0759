"""``python -m tests.bench``: run the benchmark; exit 0 unless something went wrong.

Numbers that miss their goals are reported as MISS, not as a failure; the exit status is 1
only when the benchmark itself failed, and 130 when interrupted (after cleaning up).
"""

from __future__ import annotations

import argparse
import sys

from tests.bench.interrupts import INTERRUPTS
from tests.bench.results import BenchError
from tests.bench.runner import run_bench
from tests.bench.settings import BenchSettings


def _arguments(argv: list[str] | None) -> BenchSettings:
    defaults = BenchSettings()
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument(
        "--rows", type=int, default=defaults.rows, help="rows per run (default %(default)s)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=defaults.repeats,
        help="rounds of (a), (b) and (c) (default %(default)s)",
    )
    parser.add_argument(
        "--latency-seconds",
        type=float,
        default=defaults.latency_seconds,
        help="length of the paced latency run (default %(default)s)",
    )
    args = parser.parse_args(argv)
    return BenchSettings(
        rows=args.rows, repeats=max(1, args.repeats), latency_seconds=args.latency_seconds
    )


def main(argv: list[str] | None = None) -> int:
    settings = _arguments(argv)
    INTERRUPTS.install()
    try:
        run_bench(settings)
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("bench interrupted; database, vhost and ingesters cleaned up", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
