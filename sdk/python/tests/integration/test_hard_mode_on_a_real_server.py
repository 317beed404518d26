"""Hard mode against a real ``llmlab serve``: 200 calls at once never overspend a hard budget.

The official ``openai`` client calls a stub upstream (which counts what
reaches it) through ``track_cost(client.chat.completions.create,
enforce_budget=True)``. The stub answers with the usage that makes a call's
actual cost close to its reservation (input ≤ body bytes + 1024 tokens,
output ≤ ``max_tokens``), so a budget worth about 50 calls admits about 50
even when all 200 hold at the same moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import llmlab
from conftest import FAST_TRANSPORT
from llmlab import BudgetExceeded, BudgetUnbounded, track_cost
from llmlab._reserve import Target, describe, encode
from support.llmlab_server import LLMLabServer, llmlab_bin, missing_binary_message
from support.postgres import fresh_database
from support.stub_upstream import Fixture, StubUpstream

CALLS = 200
BUDGET_IN_CALLS = 50
MAX_TOKENS = 1000
#: The hidden-prompt allowance the server adds to the body's bytes (HIDDEN_PROMPT_TOKENS).
PROMPT_TOKENS = 1024
MESSAGES: Any = [{"role": "user", "content": "Say hi."}]


def worst_case_fixture() -> Fixture:
    """A gpt-4o-mini answer billed at almost the call's worst case."""
    body = {
        "id": "chatcmpl-hard",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hi"},
                "finish_reason": "length",
            }
        ],
        "usage": {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": MAX_TOKENS,
            "total_tokens": PROMPT_TOKENS + MAX_TOKENS,
        },
    }
    request = {"model": "gpt-4o-mini", "messages": MESSAGES, "max_tokens": MAX_TOKENS}
    return Fixture(
        key="hard/chat_worst_case",
        directory="hard",
        name="chat_worst_case",
        body=json.dumps(body).encode(),
        body_path=Path("chat_worst_case.body.json"),
        expected={
            "api": "openai.chat",
            "stream": False,
            "request": {"method": "POST", "path": "/v1/chat/completions", "body": request},
        },
    )


FIXTURE = worst_case_fixture()


@pytest.fixture
def hard_stub() -> Iterator[StubUpstream]:
    with StubUpstream([FIXTURE]) as server:
        yield server


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def own_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LLMLabServer]:
    """A server of this module's own, on SQLite and on PostgreSQL: its sign-ups
    stay within the per-address limit (10 a minute), and its 200-call bursts
    do not slow the session's server."""
    binary = llmlab_bin()
    if not binary.is_file():
        pytest.fail(missing_binary_message(binary), pytrace=False)
    with contextlib.ExitStack() as stack:
        database_url = (
            stack.enter_context(fresh_database()) if request.param == "postgres" else None
        )
        workdir = tmp_path_factory.mktemp(f"llmlab-hard-{request.param}")
        server = LLMLabServer(binary, workdir, database_url=database_url).start()
        stack.callback(server.stop)
        yield server


def fresh_account(server: LLMLabServer, spool: Path) -> str:
    key = server.signup()
    llmlab.configure(
        api_key=key, base_url=server.url, spool_dir=str(spool), transport=FAST_TRANSPORT
    )
    return key


def cost_of_one_call(server: LLMLabServer, stub: StubUpstream, spool: Path) -> Decimal:
    """What one such call costs, measured on an account of its own."""
    import openai

    key = fresh_account(server, spool)
    client = openai.OpenAI(api_key="sk-test", base_url=stub.base_url(FIXTURE, "/v1"))
    track_cost(client.chat.completions.create)(
        model="gpt-4o-mini", messages=MESSAGES, max_tokens=MAX_TOKENS
    )
    assert llmlab.flush(10) == 0
    status, body = server.request("GET", "/api/costs/summary", api_key=key)
    assert status == 200, body
    cost = Decimal(body["all_time_usd"])
    assert cost > 0, body
    return cost


def hard_budget(server: LLMLabServer, key: str, amount: Decimal) -> None:
    status, body = server.request(
        "POST",
        "/api/budgets/scoped",
        {"amount_usd": str(amount), "period": "total", "hard": True},
        api_key=key,
    )
    assert status == 201, body


def budget_status(server: LLMLabServer, key: str) -> dict[str, Any]:
    status, body = server.request("GET", "/api/budgets/scoped", api_key=key)
    assert status == 200, body
    [budget] = body["budgets"]
    assert isinstance(budget["status"], dict)
    return budget["status"]


def upstream_calls(stub: StubUpstream) -> int:
    return sum(1 for r in stub.requests if r.get("fixture") == FIXTURE.key)


def check_the_budget_held(
    server: LLMLabServer,
    key: str,
    stub: StubUpstream,
    amount: Decimal,
    cost: Decimal,
    outcomes: list[object],
) -> None:
    assert llmlab.flush(10) == 0
    made = [o for o in outcomes if o == "ok"]
    refused = [o for o in outcomes if isinstance(o, BudgetExceeded)]
    others = [o for o in outcomes if o != "ok" and not isinstance(o, BudgetExceeded)]
    assert others == [], others[:3]
    assert len(made) + len(refused) == CALLS
    assert refused, "the budget covers fewer than 200 calls: some must be refused"
    assert all(type(e) is BudgetExceeded and e.status == 429 for e in refused)
    # Every refused call raised before the client sent anything.
    assert upstream_calls(stub) == len(made)

    status = budget_status(server, key)
    spent = Decimal(status["spent_usd"])
    assert spent == cost * len(made), status  # every admitted call was recorded
    assert spent <= amount, status
    assert Decimal(status["reserved_usd"]) == 0, status  # every hold settled, none leaked
    assert spent >= amount * Decimal("0.9"), status
    # Shown with `pytest -s`: the figures the Done-when line asks about.
    print(
        f"\nhard mode: {len(made)} made, {len(refused)} refused; "
        f"spent ${spent} of ${amount} ({status['percent_used']}%), held ${status['reserved_usd']}"
    )


def test_200_threads_at_once_never_overspend_a_hard_budget(
    own_server: LLMLabServer, hard_stub: StubUpstream, spool: Path
) -> None:
    import openai

    cost = cost_of_one_call(own_server, hard_stub, spool)
    key = fresh_account(own_server, spool)
    amount = cost * BUDGET_IN_CALLS
    hard_budget(own_server, key, amount)
    before = upstream_calls(hard_stub)
    client = openai.OpenAI(
        api_key="sk-test", base_url=hard_stub.base_url(FIXTURE, "/v1"), max_retries=0
    )
    create = track_cost(client.chat.completions.create, enforce_budget=True)
    start = threading.Barrier(CALLS)
    outcomes: list[object] = []
    lock = threading.Lock()

    def one() -> None:
        start.wait()
        try:
            create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=MAX_TOKENS)
            outcome: object = "ok"
        except Exception as exc:  # every outcome is checked below
            outcome = exc
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=one) for _ in range(CALLS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    hard_stub.requests[:before] = []

    check_the_budget_held(own_server, key, hard_stub, amount, cost, outcomes)


def test_200_async_tasks_at_once_never_overspend_a_hard_budget(
    own_server: LLMLabServer, hard_stub: StubUpstream, spool: Path
) -> None:
    import openai

    cost = cost_of_one_call(own_server, hard_stub, spool)
    key = fresh_account(own_server, spool)
    amount = cost * BUDGET_IN_CALLS
    hard_budget(own_server, key, amount)
    hard_stub.requests.clear()

    async def run() -> list[object]:
        client = openai.AsyncOpenAI(
            api_key="sk-test", base_url=hard_stub.base_url(FIXTURE, "/v1"), max_retries=0
        )
        create = track_cost(client.chat.completions.create, enforce_budget=True)

        async def one() -> object:
            try:
                await create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=MAX_TOKENS)
            except Exception as exc:  # every outcome is checked below
                return exc
            return "ok"

        outcomes = await asyncio.gather(*(one() for _ in range(CALLS)))
        await client.close()
        return list(outcomes)

    outcomes = asyncio.run(run())

    check_the_budget_held(own_server, key, hard_stub, amount, cost, outcomes)


def test_an_anthropic_call_with_unlimited_web_search_is_unbounded_and_never_sent(
    own_server: LLMLabServer, hard_stub: StubUpstream, spool: Path
) -> None:
    import anthropic

    key = fresh_account(own_server, spool)
    hard_budget(own_server, key, Decimal(100))
    client = anthropic.Anthropic(api_key="sk-ant-test", base_url=hard_stub.url, max_retries=0)
    create = track_cost(client.messages.create, enforce_budget=True)
    hard_stub.requests.clear()

    with pytest.raises(BudgetUnbounded, match="no bound") as raised:
        create(
            model="claude-sonnet-4-5",
            max_tokens=100,
            messages=MESSAGES,
            tools=[{"type": "web_search_20250305", "name": "web_search"}],
        )
    assert raised.value.status == 422
    assert hard_stub.requests == []


def _requests_of_each_client() -> list[tuple[str, Any, dict[str, Any]]]:
    import anthropic
    import openai
    from google import genai
    from google.genai import types

    oa = openai.OpenAI(api_key="sk-test")
    an = anthropic.Anthropic(api_key="sk-ant-test")
    gm = genai.Client(api_key="gemini-test")
    return [
        (
            "openai-chat",
            oa.chat.completions.create,
            {"model": "gpt-4o-mini", "messages": MESSAGES, "max_completion_tokens": 50},
        ),
        (
            "openai-responses",
            oa.responses.create,
            {"model": "gpt-4o-mini", "input": "Say hi.", "max_output_tokens": 50},
        ),
        (
            "openai-embeddings",
            oa.embeddings.create,
            {"model": "text-embedding-3-small", "input": ["Say hi."]},
        ),
        (
            "anthropic-messages",
            an.messages.create,
            {"model": "claude-haiku-4-5", "max_tokens": 50, "messages": MESSAGES},
        ),
        (
            "gemini-generate",
            gm.models.generate_content,
            {
                "model": "gemini-2.5-flash",
                "contents": "Say hi.",
                "config": types.GenerateContentConfig(max_output_tokens=50),
            },
        ),
    ]


def test_the_server_holds_the_request_of_each_client_as_sent(
    own_server: LLMLabServer, spool: Path
) -> None:
    key = fresh_account(own_server, spool)
    hard_budget(own_server, key, Decimal(100))
    for name, method, kwargs in _requests_of_each_client():
        call = describe(Target(method), (), kwargs, None, None, None, None, None)
        status, body = own_server.request(
            "POST", "/api/budgets/reserve", json.loads(encode(call)), api_key=key
        )
        assert status in (200, 201), (name, body)
        # Each request sets a small output limit: bounded by its body, far below the model's
        # context window, so the server read the body the SDK built.
        if name != "openai-embeddings":
            assert status == 201, (name, body)
            assert Decimal(body["reserved_usd"]) < Decimal("0.01"), (name, body)
            released, _ = own_server.request(
                "DELETE", f"/api/budgets/reservations/{body['reservation_id']}", api_key=key
            )
            assert released == 204, name
