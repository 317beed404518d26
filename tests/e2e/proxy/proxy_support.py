"""Helpers for the proxy's end-to-end tests: the shared stub upstream, pinned by a header.

The SDK's ``StubUpstream`` (``sdk/python/tests/support/stub_upstream.py``)
serves the shared fixtures. It pins a fixture by a path prefix; the proxy's
clients must use the documented base URLs, so here the pin travels in an
``X-Stub-Fixture`` request header instead, which the proxy forwards like any
other header.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

REPO = Path(__file__).resolve().parents[3]


def _load_stub_module() -> Any:
    path = REPO / "sdk" / "python" / "tests" / "support" / "stub_upstream.py"
    name = "llmlab_shared_stub_upstream"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


_stub = _load_stub_module()
Fixture = _stub.Fixture
load_fixtures = _stub.load_fixtures
FIXTURES_DIR: Path = _stub.FIXTURES_DIR

PIN_HEADER = "x-stub-fixture"


class PinnedStub(_stub.StubUpstream):  # type: ignore[misc, name-defined]
    """The shared stub; a request naming a fixture in ``X-Stub-Fixture`` gets that fixture."""

    def respond(self, path: str, raw: bytes, headers: dict[str, str]) -> tuple[int, str, bytes]:
        pin = next((v for k, v in headers.items() if k.lower() == PIN_HEADER), None)
        if pin:
            path = f"/fx/{pin}{path}"
        return super().respond(path, raw, headers)  # type: ignore[no-any-return]

    def last_headers(self) -> dict[str, str]:
        """The last request's headers, names lowercased."""
        return {k.lower(): v for k, v in self.requests[-1]["headers"].items()}


def api_get(base_url: str, path: str, key: str) -> bytes:
    request = urllib.request.Request(base_url + path, headers={"authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return bytes(response.read())


def wait_for_events(base_url: str, key: str, count: int, timeout: float = 10.0) -> list[dict[str, str]]:
    """Waits until the account has ``count`` events; returns them from the CSV export."""
    import json

    deadline = time.monotonic() + timeout
    while True:
        summary = json.loads(api_get(base_url, "/api/costs/summary", key))
        stored = int(summary["all_time_calls"])
        if stored >= count:
            assert stored == count, f"{stored} events for {count} calls"
            break
        assert time.monotonic() < deadline, f"only {stored} of {count} calls were recorded"
        time.sleep(0.02)
    text = api_get(base_url, "/api/events/export", key).decode()
    return list(csv.DictReader(io.StringIO(text)))


def cost_of(event: dict[str, str]) -> Optional[Decimal]:
    return Decimal(event["cost_usd"]) if event["cost_usd"] else None
