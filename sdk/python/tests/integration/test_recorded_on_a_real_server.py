"""What a real `llmlab serve` makes of the SDK's refused calls, unknown providers and `gemini`.

Official clients → stub upstream (the recorded error bodies of ``fixtures/errors``)
→ ``@track_cost`` → a real server: a refused call costs exactly $0 and is never
listed as unpriced, like the proxy's.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import llmlab
from conftest import FAST_TRANSPORT
from llmlab import track_cost
from support import drivers
from support.llmlab_server import LLMLabServer
from support.stub_upstream import Fixture, StubUpstream, load_error_fixtures

ERRORS = load_error_fixtures()


@pytest.fixture(scope="module")
def error_stub() -> Iterator[StubUpstream]:
    with StubUpstream(ERRORS) as server:
        yield server


def fresh_account(server: LLMLabServer, spool: Path) -> str:
    key = server.signup()
    llmlab.configure(
        api_key=key, base_url=server.url, spool_dir=str(spool), transport=FAST_TRANSPORT
    )
    return key


def summary(server: LLMLabServer, key: str) -> dict[str, Any]:
    status, body = server.request("GET", "/api/costs/summary", api_key=key)
    assert status == 200, body
    assert isinstance(body, dict)
    return body


@pytest.mark.parametrize("fx", ERRORS, ids=lambda f: f.key)
def test_a_call_the_provider_refused_costs_zero_and_is_not_unpriced(
    fx: Fixture, error_stub: StubUpstream, llmlab_server: LLMLabServer, spool: Path
) -> None:
    key = fresh_account(llmlab_server, spool)

    status = None
    try:
        drivers.run(fx, error_stub, drivers.SYNC, track_cost())
    except Exception as exc:  # each client raises its own class
        status = getattr(exc, "status_code", None) or getattr(exc, "code", None)
    assert status == fx.status
    assert llmlab.flush(10) == 0

    body = summary(llmlab_server, key)
    assert body["all_time_calls"] == 1, body
    assert body["unpriced_calls"] == 0, body
    assert body["unpriced_models"] == [], body
    assert Decimal(body["all_time_usd"]) == Decimal(fx.cost_usd or "x")
    [row] = body["by_model"]
    assert (row["provider"], row["model"]) == (fx.expected["provider"], fx.expected["model"])


def test_gemini_is_stored_as_google(llmlab_server: LLMLabServer, spool: Path) -> None:
    key = fresh_account(llmlab_server, spool)

    for name in ("gemini", "google"):
        with llmlab.track(provider=name) as t:
            t.record(model="gemini-2.5-flash", input_tokens=1_000_000)
    assert llmlab.flush(10) == 0

    body = summary(llmlab_server, key)
    assert body["by_provider"] == [{"provider": "google", "cost_usd": "0.6", "calls": 2}], body
