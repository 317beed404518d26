"""Schema fuzzing: Schemathesis drives a real `llmlab serve` from its own
`/api/openapi.json` and checks that every answer is what the document says
(`--checks all`: no server error, documented status codes, content types and
bodies, invalid data refused, valid data accepted). NUL bytes are allowed in
generated strings: PostgreSQL refuses them, SQLite does not, and both must
answer the same.

Runs on SQLite and on PostgreSQL, each on a fresh database. The example
budget and the seed are fixed, so a run is repeatable and stays well under a
minute per backend on a two-core machine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
SEED = 20261207
MAX_EXAMPLES = 25
REVOKE = "DELETE /api/keys/{key_id}"


def schemathesis(server: Any, key: str, *selection: str) -> subprocess.CompletedProcess[str]:
    """Runs `st run` against `server` with `key`, on the operations `selection` picks."""
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "--no-color",
        "run",
        f"{server.base_url}/api/openapi.json",
        "--checks",
        "all",
        "--generation-allow-x00",
        "true",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-database",
        "none",
        "--workers",
        "1",
        "--header",
        f"Authorization: Bearer {key}",
        "--output-sanitize",
        "false",
        # The proxy forwards to real providers; its own tests cover it. `/v1/traces` takes OTLP's
        # protobuf or OTLP/JSON, which its OpenAPI entry only names (tests/e2e/otel covers it).
        "--exclude-path-regex",
        "^/proxy/|^/v1/traces$",
        *selection,
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    print(run.stdout[-20_000:], run.stderr[-5_000:], sep="\n")
    return run


def summary(output: str) -> str:
    """The closing summary of a Schemathesis run."""
    at = output.rfind("SUMMARY")
    return output[at:] if at >= 0 else output[-3_000:]


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_the_api_answers_as_its_openapi_document_says(backend_server: Any) -> None:
    key = backend_server.signup("fuzzer")
    # Every operation but key revocation: the fuzzer must not revoke its own key.
    everything = schemathesis(backend_server, key, "--exclude-name", REVOKE)
    assert everything.returncode == 0, summary(everything.stdout)
    # Revocation alone, with a second key: with no operation listing keys in
    # this run, it can only try ids it made up.
    status, created = backend_server.request("POST", "/api/keys", {"name": "fuzz"}, key=key)
    assert status == 201, created
    revocation = schemathesis(backend_server, created["api_key"], "--include-name", REVOKE)
    assert revocation.returncode == 0, summary(revocation.stdout)
    assert "request failed" not in backend_server.log(), backend_server.log()
    status, _ = backend_server.request("GET", "/api/account", key=key)
    assert status == 200, "the fuzzer's own key still works"
