"""The command line of every generator whose output is committed: --write, or --check in CI.

The generators (RabbitMQ definitions, the AsyncAPI document, the k8s copies of shared files)
differ in what they render; how a developer refreshes them and how CI catches a stale copy is
the same for all, so the message always names the files and the command that fixes them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def write_files(files: dict[Path, str], root: Path = REPO) -> list[str]:
    """Write each repository-relative path with its content; return the paths written."""
    for path, content in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(content)
    return [str(path) for path in files]


def stale_paths(files: dict[Path, str], root: Path = REPO) -> list[str]:
    """The paths that are missing or differ from the content the generator renders now."""
    return [
        str(path)
        for path, content in files.items()
        if not (root / path).exists() or (root / path).read_text() != content
    ]


def files_main(
    argv: list[str] | None,
    *,
    description: str,
    what: str,
    fix: str,
    render: Callable[[], dict[Path, str]],
) -> int:
    """generator_main for a generator that renders whole files (path -> content)."""
    return generator_main(
        argv,
        description=description,
        what=what,
        fix=fix,
        stale=lambda: stale_paths(render()),
        write=lambda: write_files(render()),
    )


def generator_main(
    argv: list[str] | None,
    *,
    description: str,
    what: str,
    fix: str,
    stale: Callable[[], Sequence[str]],
    write: Callable[[], Sequence[str]],
) -> int:
    """Parse --write/--check; --check exits 1 and names the stale files and the fix."""
    parser = argparse.ArgumentParser(description=description)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help=f"write {what}")
    mode.add_argument("--check", action="store_true", help=f"exit 1 if {what}: stale")
    args = parser.parse_args(argv)
    if args.check:
        names = stale()
        if names:
            print(f"{what}: stale ({', '.join(names)}); run {fix}", file=sys.stderr)
            return 1
        print(f"{what}: up to date")
        return 0
    for name in write():
        print(f"wrote {name}")
    return 0
