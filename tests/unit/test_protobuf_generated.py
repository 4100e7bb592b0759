"""The generated code in libs/protocol matches proto/ (run `make proto` when this fails)."""

from __future__ import annotations

from iot_devstack.protogen import stale_files

from tests.support import REPO


def test_generated_protobuf_code_is_up_to_date() -> None:
    assert stale_files(REPO / "libs" / "protocol") == []
