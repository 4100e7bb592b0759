"""The shared --write/--check command line of the generators of committed files."""

from __future__ import annotations

from pathlib import Path

import pytest
from iot_devstack.generated import generator_main, stale_paths, write_files


def _run(root: Path, files: dict[Path, str], *argv: str) -> int:
    return generator_main(
        list(argv),
        description="test",
        what="the test files",
        fix="make test-files",
        stale=lambda: stale_paths(files, root),
        write=lambda: write_files(files, root),
    )


def test_check_names_the_stale_files_and_the_fix_then_write_repairs_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {Path("a/one.txt"): "1\n", Path("two.txt"): "2\n"}
    (tmp_path / "two.txt").write_text("2\n")

    assert _run(tmp_path, files, "--check") == 1
    assert capsys.readouterr().err == "the test files: stale (a/one.txt); run make test-files\n"

    assert _run(tmp_path, files, "--write") == 0
    assert (tmp_path / "a" / "one.txt").read_text() == "1\n"
    assert _run(tmp_path, files, "--check") == 0
    assert capsys.readouterr().out.endswith("the test files: up to date\n")

    (tmp_path / "two.txt").write_text("edited by hand\n")
    assert _run(tmp_path, files, "--check") == 1


def test_one_mode_is_required(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        _run(tmp_path, {}, "--check", "--write")
    assert exited.value.code == 2
