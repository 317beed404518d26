"""End to end: real provider clients → stub upstream → @track_cost → a real `llmlab serve`.

For every fixture the official client can request (non-streaming and
streaming, sync and async, and the stream helpers), the decorated call's
event must land on the server with exactly the fixture's expected cost.
"""

from __future__ import annotations

import re
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import llmlab
from conftest import FAST_TRANSPORT
from llmlab import BudgetWarning, track_cost
from support import drivers
from support.expected_usage import items
from support.llmlab_server import LLMLabServer
from support.stub_upstream import FIXTURES_DIR, Fixture, StubUpstream, load_fixtures

FIXTURES = load_fixtures()
LIVE = [(fx, v) for fx in FIXTURES if drivers.is_live(fx) for v in drivers.variants(fx)]
PROVIDER = {"openai": "openai", "anthropic": "anthropic", "gemini": "google"}


def project_name(fx: Fixture, variant: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", f"{fx.name}-{variant}".lower())[:100]


def configure(server: LLMLabServer, key: str, spool: Path) -> None:
    llmlab.configure(
        api_key=key, base_url=server.url, spool_dir=str(spool), transport=FAST_TRANSPORT
    )


def summary(server: LLMLabServer, key: str, project: str) -> dict[str, Any]:
    status, body = server.request("GET", f"/api/costs/summary?project={project}", api_key=key)
    assert status == 200, body
    assert isinstance(body, dict)
    return body


def assert_cost(server: LLMLabServer, key: str, project: str, fx: Fixture, calls: int = 1) -> None:
    body = summary(server, key, project)
    assert body["all_time_calls"] == calls, body
    expected = fx.cost_usd
    if fx.expected.get("estimated"):
        # A chat stream without usage: the SDK has no text estimate to send, so usage unknown.
        expected = None
    partial = calls if fx.expected.get("partial") and expected is not None else 0
    assert body["all_time_partial_calls"] == partial, (fx.key, body)
    if expected is None:
        assert body["unpriced_calls"] == calls, body
        assert Decimal(body["all_time_usd"]) == 0
    else:
        assert body["unpriced_calls"] == 0, body
        assert Decimal(body["all_time_usd"]) == Decimal(expected) * calls, (fx.key, body)


@pytest.mark.parametrize(("fx", "variant"), LIVE, ids=[f"{f.key}-{v}" for f, v in LIVE])
def test_the_server_prices_each_tracked_call_exactly_like_the_fixture(
    fx: Fixture,
    variant: str,
    stub: StubUpstream,
    llmlab_server: LLMLabServer,
    api_key: str,
    spool: Path,
) -> None:
    configure(llmlab_server, api_key, spool)
    project = project_name(fx, variant)
    decorate = track_cost(provider=PROVIDER[fx.directory], project=project)
    drivers.run(fx, stub, variant, decorate)
    assert llmlab.flush(10) == 0
    assert list(spool.glob("*.json")) == [], llmlab_server.log()
    assert_cost(llmlab_server, api_key, project, fx)


@pytest.mark.parametrize("fx", [f for f in FIXTURES if not drivers.is_live(f)], ids=lambda f: f.key)
def test_plain_dicts_are_priced_exactly_too(
    fx: Fixture, llmlab_server: LLMLabServer, api_key: str, spool: Path
) -> None:
    configure(llmlab_server, api_key, spool)
    project = project_name(fx, "dict")
    chunks = items(fx)
    if fx.stream:

        @track_cost(provider=PROVIDER[fx.directory], project=project)
        def call() -> Any:
            yield from chunks

        list(call())
    else:
        with llmlab.track(provider=PROVIDER[fx.directory], project=project) as t:
            t.record(chunks[0])
    assert llmlab.flush(10) == 0
    assert_cost(llmlab_server, api_key, project, fx)


def test_manual_buckets_are_priced(llmlab_server: LLMLabServer, api_key: str, spool: Path) -> None:
    configure(llmlab_server, api_key, spool)
    with llmlab.track(provider="openai", project="manual") as t:
        t.record(model="gpt-4o-mini", input_tokens=1_000_000, output_tokens=1_000_000)
    assert llmlab.flush(10) == 0
    body = summary(llmlab_server, api_key, "manual")
    assert Decimal(body["all_time_usd"]) == Decimal("0.75")  # 0.15 + 0.60 per 1M


def test_an_openai_stream_without_usage_is_stored_as_usage_unknown_not_zero(
    llmlab_server: LLMLabServer, api_key: str, spool: Path
) -> None:
    body_path = FIXTURES_DIR / "openai" / "chat_stream_no_usage_estimated_gpt-4o-mini.body.sse"
    no_usage = Fixture(
        key="openai/chat_stream_no_usage_estimated_gpt-4o-mini",
        directory="openai",
        name="chat_stream_no_usage_estimated_gpt-4o-mini",
        body=body_path.read_bytes(),
        body_path=body_path,
        expected={
            "api": "openai.chat",
            "stream": True,
            "request": {"method": "POST", "path": "/v1/chat/completions", "model": "gpt-4o-mini"},
        },
    )
    configure(llmlab_server, api_key, spool)
    with StubUpstream([no_usage]) as stub:
        client = drivers.openai_client(stub, no_usage, False)

        @track_cost(project="no-usage")
        def call() -> Any:
            return client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
            )

        chunks = list(call())
    assert chunks and all(c.usage is None for c in chunks)
    assert llmlab.flush(10) == 0
    body = summary(llmlab_server, api_key, "no-usage")
    assert body["all_time_calls"] == 1
    assert body["unpriced_calls"] == 1
    assert Decimal(body["all_time_usd"]) == 0


def test_budget_alerts_from_the_real_server(llmlab_server: LLMLabServer, spool: Path) -> None:
    key = llmlab_server.signup()  # its own account: the budget must not touch the others
    status, body = llmlab_server.request(
        "POST", "/api/budgets", {"amount_usd": "1", "period": "monthly"}, api_key=key
    )
    assert status in (200, 201), body
    alerts: list[dict[str, Any]] = []
    configure(llmlab_server, key, spool)
    llmlab.configure(on_budget_alert=alerts.append)
    with pytest.warns(BudgetWarning) as caught, llmlab.track(provider="openai") as t:
        # $0.75, then $1.50: 75% (ok), then past 100% (exceeded)
        t.record(model="gpt-4o-mini", input_tokens=1_000_000, output_tokens=1_000_000)
        assert llmlab.flush(10) == 0
        t.record(model="gpt-4o-mini", input_tokens=1_000_000, output_tokens=1_000_000)
        assert llmlab.flush(10) == 0
        t.record(model="gpt-4o-mini", input_tokens=1, output_tokens=1)
        assert llmlab.flush(10) == 0
    warned = [w for w in caught if w.category is BudgetWarning]
    assert len(warned) == 1
    assert "exceeded" in str(warned[0].message)
    assert [a["state"] for a in alerts] == ["exceeded"]


def test_server_down_then_back_counts_every_event_once(
    llmlab_server: LLMLabServer, api_key: str, spool: Path, tmp_path: Path
) -> None:
    # A second server on its own database, so stopping it disturbs no other test.
    other = LLMLabServer(llmlab_server.binary, tmp_path).start()
    key = other.signup()
    other.stop()
    configure(other, key, spool)
    with llmlab.track(provider="openai", project="outage") as t:
        for _ in range(12):
            t.record(model="gpt-4o-mini", input_tokens=1_000_000, output_tokens=0)
    assert llmlab.flush(5) == 0
    assert len(list(spool.glob("*.json"))) >= 1
    other.start()
    try:
        time.sleep(0.6)  # past the sender's backoff
        assert llmlab.flush(10) == 0
        assert list(spool.glob("*.json")) == []
        status, body = other.request("GET", "/api/costs/summary?project=outage", api_key=key)
        assert status == 200, body
        assert body["all_time_calls"] == 12
        assert Decimal(body["all_time_usd"]) == Decimal("1.8")  # 12 × $0.15
    finally:
        other.stop()
