"""Print the gateway's OpenAPI document: `python -m api_gateway.openapi > openapi.json`.

The committed services/api-gateway/openapi.json is checked against this in the tests, so
clients generated from it never drift from what the gateway serves.
"""

from __future__ import annotations

import json

from api_gateway.http.app import openapi_document


def render() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
