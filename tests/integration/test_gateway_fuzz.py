"""Fuzz the running gateway from its own OpenAPI document (schemathesis): no input may produce a
server error, and every answer must match the documented schema and status codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.db_fixtures import TestDatabase
from tests.integration.gateway_fixtures import Gateway
from tests.integration.pipeline import execute

pytestmark = pytest.mark.integration

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def test_fuzzing_the_openapi_document_finds_no_server_error(
    gateway: Gateway, database: TestDatabase, tmp_path: Path
) -> None:
    # Some real rows, so that generated requests also reach the paths behind the 404s.
    execute(
        database.admin_url,
        "INSERT INTO sensors (serial_number, sample_frequency_hz) "
        "SELECT 'sim-' || n, n FROM generate_series(1, 3) n",
    )
    execute(database.admin_url, "INSERT INTO targets (name) VALUES ('pump-1')")
    execute(database.admin_url, "INSERT INTO projects (id, name) VALUES ('studio', 'Studio')")
    execute(
        database.admin_url, "INSERT INTO device_groups (project_id, name) VALUES ('studio', 'a')"
    )
    result = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{gateway.url}/api/v1/openapi.json",
            "--header",
            f"Authorization: Bearer {gateway.keys['admin']}",
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,"
            "response_schema_conformance",
            "--max-examples",
            "25",
            "--seed",
            "20261123",
            "--generation-deterministic",
            # Revoking keys would revoke the fuzzer's own key and turn the rest into 401s.
            "--exclude-path",
            "/api/v1/api-keys/{key_id}",
            "--workers",
            "1",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=tmp_path,  # schemathesis keeps its state in the working directory
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "operations" in result.stdout.lower() or "passed" in result.stdout.lower()
