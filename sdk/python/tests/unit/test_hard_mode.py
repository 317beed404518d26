"""Hard mode (``enforce_budget``): reserve before the call, refuse without calling, settle.

The LLMLab side is the fake server (``support.fake_llmlab``), which holds
``hold_usd`` per reservation against ``hard_budget_usd`` and releases a hold
when an event carrying its ``reservation_id`` arrives, or on ``DELETE``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import pickle
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, TypeVar, cast

import pytest

import llmlab
from conftest import FAST_TRANSPORT
from llmlab import BudgetCheckFailed, BudgetExceeded, BudgetUnbounded, track, track_cost
from support.fake_llmlab import FakeLLMLab, Scripted
from support.stub_upstream import StubUpstream, load_fixtures

CHAT: dict[str, Any] = {
    "object": "chat.completion",
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [],
    "usage": {"prompt_tokens": 31, "completion_tokens": 41, "total_tokens": 72},
}
CHUNKS: list[dict[str, Any]] = [
    {"object": "chat.completion.chunk", "model": "gpt-4o-mini", "choices": [{"delta": {}}]},
    {
        "object": "chat.completion.chunk",
        "model": "gpt-4o-mini",
        "choices": [],
        "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
    },
]


def hard(**options: Any) -> Callable[[F], F]:
    """``track_cost`` in hard mode for ``gpt-4o-mini`` with at most 100 output tokens."""
    decorate = track_cost(
        enforce_budget=True, model="gpt-4o-mini", max_output_tokens=100, **options
    )
    return cast("Callable[[F], F]", decorate)


F = TypeVar("F", bound=Callable[..., Any])


class Boom(Exception):
    pass


@pytest.fixture
def hard_budget(tracking: FakeLLMLab) -> FakeLLMLab:
    """A hard budget of $0.05 on the fake server: five holds of $0.01 at most."""
    tracking.hard_budget_usd = Decimal("0.05")
    return tracking


def settled(server: FakeLLMLab) -> FakeLLMLab:
    """Flush, then check that no hold is left: every one was settled or released."""
    assert llmlab.flush(5) == 0
    wait_for(lambda: not server.holds)
    return server


def wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.005)


def reserve_requests(server: FakeLLMLab) -> list[dict[str, Any]]:
    return [r for r in server.requests if r["path"] == "/api/budgets/reserve"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- held, then settled by the event -------------------------------------------------------


def test_a_held_call_is_made_and_its_event_settles_the_hold(hard_budget: FakeLLMLab) -> None:
    calls = []

    @hard()
    def ask(question: str) -> dict[str, Any]:
        calls.append(question)
        return CHAT

    assert ask("hi") is CHAT

    assert calls == ["hi"]
    assert hard_budget.reservations == [
        {"provider": "openai", "model": "gpt-4o-mini", "max_output_tokens": 100}
    ]
    [event] = settled(hard_budget).event_list()
    assert event["reservation_id"] == hard_budget.settled[0]
    assert event["usage"] == CHAT["usage"]
    assert hard_budget.released == []


def test_the_settling_event_goes_out_at_once_not_with_the_next_batch(
    fake_server: FakeLLMLab, isolated_llmlab: Path
) -> None:
    # A minute between batches: only the urgency of hard-mode events can deliver it now.
    llmlab.configure(
        api_key=fake_server.api_key,
        base_url=fake_server.url,
        spool_dir=str(isolated_llmlab),
        transport={**FAST_TRANSPORT, "flush_interval": 60.0},
    )
    fake_server.hard_budget_usd = Decimal("1")

    @track_cost
    def plain() -> dict[str, Any]:
        return CHAT

    plain()  # starts the worker, which then sleeps for a minute

    @hard()
    def ask() -> dict[str, Any]:
        return CHAT

    ask()
    wait_for(lambda: len(fake_server.settled) == 1)
    assert len(fake_server.event_list()) == 2  # the plain event rode along


def test_the_reservation_carries_the_events_project_and_tags(hard_budget: FakeLLMLab) -> None:
    llmlab.configure(project="search", tags={"env": "ci", "team": "a"})

    @hard(tags={"team": "b", "customer": "acme"})
    def ask() -> dict[str, Any]:
        return CHAT

    ask()
    [reservation] = hard_budget.reservations
    assert reservation["project"] == "search"
    assert reservation["tags"] == {"env": "ci", "team": "b", "customer": "acme"}
    [event] = settled(hard_budget).event_list()
    assert (event["project"], event["tags"]) == ("search", reservation["tags"])


def test_nothing_held_means_the_call_is_made_and_the_event_is_plain(tracking: FakeLLMLab) -> None:
    @hard()
    def ask() -> dict[str, Any]:
        return CHAT

    assert ask() is CHAT
    [event] = settled(tracking).event_list()
    assert "reservation_id" not in event
    assert len(tracking.reservations) == 1


# -- refused: the provider is never called ---------------------------------------------------


def test_a_refused_call_raises_budget_exceeded_and_is_never_made(hard_budget: FakeLLMLab) -> None:
    hard_budget.hard_budget_usd = Decimal("0.005")  # below one hold
    calls = []

    @hard(provider="openai", project="search")
    def ask() -> dict[str, Any]:
        calls.append(1)
        return CHAT

    with pytest.raises(BudgetExceeded) as raised:
        ask()

    assert calls == []
    error = raised.value
    assert type(error) is BudgetExceeded
    assert str(error).startswith("LLMLab hard budget reached: the total budget of the account")
    assert error.message == str(error)
    assert (error.status, error.code) == (429, "budget_exceeded")
    assert (error.provider, error.model, error.project) == ("openai", "gpt-4o-mini", "search")
    assert settled(hard_budget).event_list() == []


def test_concurrent_calls_past_the_budget_are_refused_and_the_rest_settle(
    hard_budget: FakeLLMLab,
) -> None:
    gate = threading.Event()
    made = []

    @hard()
    def ask() -> dict[str, Any]:
        made.append(1)
        gate.wait(5)  # every admitted call holds its reservation until all have asked
        return CHAT

    refused = []

    def one() -> None:
        try:
            ask()
        except BudgetExceeded:
            refused.append(1)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(made) + len(refused) == 8)
    gate.set()
    for thread in threads:
        thread.join()

    assert (len(made), len(refused)) == (5, 3)  # $0.05 holds five calls of $0.01
    assert len(settled(hard_budget).settled) == 5


def test_a_call_whose_cost_has_no_bound_raises_budget_unbounded(tracking: FakeLLMLab) -> None:
    message = "LLMLab hard budget: the account covers this call, and its cost has no bound"
    tracking.reserve_script.append(
        Scripted(422, {"error": {"code": "invalid_field", "message": message}})
    )
    calls = []

    @hard()
    def ask() -> dict[str, Any]:
        calls.append(1)
        return CHAT

    with pytest.raises(BudgetUnbounded, match="has no bound") as raised:
        ask()
    assert calls == []
    assert (raised.value.status, raised.value.code) == (422, "invalid_field")
    assert isinstance(raised.value, BudgetExceeded)


def test_a_call_without_any_known_model_is_refused_without_a_round_trip(
    hard_budget: FakeLLMLab,
) -> None:
    calls = []

    @track_cost(enforce_budget=True)
    def ask(question: str) -> dict[str, Any]:
        calls.append(1)
        return CHAT

    with pytest.raises(BudgetUnbounded, match="cannot tell which model"):
        ask("hi")
    assert calls == []
    assert reserve_requests(hard_budget) == []


# -- the server cannot be asked: fail open or closed ----------------------------------------


def test_unreachable_fails_open_by_default_with_one_warning(
    tracking: FakeLLMLab, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="llmlab")
    tracking.stop()
    calls = []

    @hard()
    def ask() -> dict[str, Any]:
        calls.append(1)
        return CHAT

    assert ask() is CHAT
    assert ask() is CHAT

    assert calls == [1, 1]
    warnings = [r.getMessage() for r in caplog.records if "hard mode" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert "could not check the budget" in warnings[0]
    assert 'budget_failure="open"' in warnings[0]


def test_unreachable_fails_closed_when_configured(tracking: FakeLLMLab) -> None:
    llmlab.configure(budget_failure="closed")
    tracking.stop()
    calls = []

    @hard()
    def ask() -> dict[str, Any]:
        calls.append(1)
        return CHAT

    with pytest.raises(BudgetCheckFailed, match="could not check the budget") as raised:
        ask()
    assert calls == []
    assert raised.value.status is None
    assert isinstance(raised.value, BudgetExceeded)


def test_the_decorator_can_fail_closed_on_its_own(tracking: FakeLLMLab) -> None:
    tracking.stop()

    @hard(budget_failure="fail_closed")
    def strict() -> dict[str, Any]:
        return CHAT

    @hard()
    def lenient() -> dict[str, Any]:
        return CHAT

    with pytest.raises(BudgetCheckFailed):
        strict()
    assert lenient() is CHAT


def test_the_environment_can_fail_closed(
    fake_server: FakeLLMLab, isolated_llmlab: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMLAB_BUDGET_FAILURE", "closed")
    llmlab.configure(
        api_key=fake_server.api_key,
        base_url=f"http://127.0.0.1:{closed_port()}",
        spool_dir=str(isolated_llmlab),
    )

    @hard()
    def ask() -> dict[str, Any]:
        return CHAT

    with pytest.raises(BudgetCheckFailed):
        ask()


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (Scripted(500, {"error": {"code": "internal_error", "message": "x"}}), "HTTP 500"),
        (Scripted(503, None, {"Retry-After": "0"}), "HTTP 503"),
        (Scripted(401, {"error": {"code": "invalid_api_key", "message": "bad"}}), "API key"),
        (Scripted(404, {"error": {"code": "not_found", "message": "x"}}), "predates hard budgets"),
        (Scripted(429, {"error": {"code": "rate_limited", "message": "slow"}}), "HTTP 429"),
    ],
    ids=["500", "503", "401", "404", "429-not-budget"],
)
def test_an_answer_that_is_not_a_budget_decision_follows_the_failure_setting(
    tracking: FakeLLMLab, answer: Scripted, why: str
) -> None:
    tracking.reserve_script.extend([answer, answer])
    calls = []

    @hard()
    def ask() -> dict[str, Any]:
        calls.append(1)
        return CHAT

    assert ask() is CHAT  # open
    llmlab.configure(budget_failure="closed")
    with pytest.raises(BudgetCheckFailed, match=why):
        ask()
    assert calls == [1]


def test_a_timed_out_reservation_fails_open_and_pauses_the_round_trips(
    fake_server: FakeLLMLab, isolated_llmlab: Path
) -> None:
    llmlab.configure(
        api_key=fake_server.api_key,
        base_url=fake_server.url,
        spool_dir=str(isolated_llmlab),
        transport={**FAST_TRANSPORT, "reserve_timeout": 0.2, "reserve_pause": 60.0},
    )
    fake_server.reserve_delay = 1.0
    calls = []

    @hard()
    def ask() -> dict[str, Any]:
        calls.append(1)
        return CHAT

    ask()
    ask()  # within the pause: no second wait for the hung server

    assert calls == [1, 1]
    assert fake_server.budget_requests_received == 1


def test_the_warning_comes_back_after_the_server_answered_again(
    tracking: FakeLLMLab, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="llmlab")
    down = Scripted(502, None)
    tracking.reserve_script.extend([down, down])

    @hard()
    def ask() -> dict[str, Any]:
        return CHAT

    ask()  # down: warns
    ask()  # down: quiet
    ask()  # answered
    tracking.reserve_script.append(down)
    ask()  # down again: warns again
    warnings = [r for r in caplog.records if "hard mode could not" in r.getMessage()]
    assert len(warnings) == 2


def test_without_an_api_key_hard_mode_follows_the_failure_setting(
    isolated_llmlab: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls = []

    @hard()
    def ask() -> dict[str, Any]:
        calls.append(1)
        return CHAT

    assert ask() is CHAT
    assert any("no API key" in r.getMessage() for r in caplog.records)
    llmlab.configure(budget_failure="closed")
    with pytest.raises(BudgetCheckFailed, match="no API key"):
        ask()
    assert calls == [1]


def test_a_disabled_sdk_disables_hard_mode_too(tracking: FakeLLMLab) -> None:
    llmlab.configure(enabled=False, budget_failure="closed")

    @hard()
    def ask() -> dict[str, Any]:
        return CHAT

    assert ask() is CHAT
    assert tracking.requests == []


def test_an_unknown_failure_setting_is_read_as_closed_with_a_warning(
    tracking: FakeLLMLab, caplog: pytest.LogCaptureFixture
) -> None:
    llmlab.configure(budget_failure="shut")
    tracking.stop()

    @hard()
    def ask() -> dict[str, Any]:
        return CHAT

    with pytest.raises(BudgetCheckFailed):
        ask()
    assert any("'shut'" in r.getMessage() for r in caplog.records)


# -- the call raises, returns nothing, or is interrupted ---------------------------------------


def test_a_call_that_raises_sends_a_failure_event_that_settles_the_hold(
    hard_budget: FakeLLMLab,
) -> None:
    @hard()
    def ask() -> dict[str, Any]:
        raise Boom("no")

    with pytest.raises(Boom):
        ask()
    [event] = settled(hard_budget).event_list()
    assert event["status"] == "error"
    assert event["model"] == "gpt-4o-mini"  # the model it reserved for
    assert event["reservation_id"] == hard_budget.settled[0]


def test_a_call_interrupted_by_a_base_exception_releases_its_hold(
    hard_budget: FakeLLMLab,
) -> None:
    @hard()
    def ask() -> dict[str, Any]:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ask()
    assert len(settled(hard_budget).released) == 1
    assert hard_budget.event_list() == []


def test_a_call_that_returns_no_llm_response_releases_its_hold(hard_budget: FakeLLMLab) -> None:
    @track_cost(enforce_budget=True)
    def ask(model: str, messages: list[Any]) -> str:
        return "not a response"

    assert ask("gpt-4o-mini", [{"role": "user", "content": "hi"}]) == "not a response"
    assert len(settled(hard_budget).released) == 1
    assert hard_budget.event_list() == []


def test_an_event_the_server_refuses_releases_its_hold(hard_budget: FakeLLMLab) -> None:
    @track_cost(enforce_budget=True, model="reject-me")
    def ask() -> dict[str, Any]:
        return {"object": "chat.completion", "model": "reject-me", "usage": {}}

    ask()
    assert len(settled(hard_budget).released) == 1


# -- async, generators and streams -----------------------------------------------------------


async def test_async_calls_are_held_settled_and_refused(hard_budget: FakeLLMLab) -> None:
    calls = []

    @hard()
    async def ask() -> dict[str, Any]:
        calls.append(1)
        await asyncio.sleep(0)
        return CHAT

    assert await ask() is CHAT
    hard_budget.hard_budget_usd = Decimal("0.001")
    with pytest.raises(BudgetExceeded):
        await ask()
    assert calls == [1]
    [event] = settled(hard_budget).event_list()
    assert event["reservation_id"] == hard_budget.settled[0]


async def test_async_calls_do_not_block_the_event_loop_while_reserving(
    hard_budget: FakeLLMLab,
) -> None:
    hard_budget.reserve_delay = 0.3
    hard_budget.hard_budget_usd = Decimal("1")
    ticks = []

    async def ticker() -> None:
        for _ in range(10):
            ticks.append(1)
            await asyncio.sleep(0.01)

    @hard()
    async def ask() -> dict[str, Any]:
        return CHAT

    await asyncio.gather(ask(), ask(), ticker())
    assert len(ticks) == 10
    assert len(settled(hard_budget).settled) == 2


async def test_a_cancelled_async_call_releases_its_hold(hard_budget: FakeLLMLab) -> None:
    started = asyncio.Event()

    @hard()
    async def ask() -> dict[str, Any]:
        started.set()
        await asyncio.sleep(10)
        return CHAT

    task = asyncio.ensure_future(ask())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(settled(hard_budget).released) == 1


async def test_a_task_cancelled_while_reserving_releases_the_hold_made_meanwhile(
    hard_budget: FakeLLMLab,
) -> None:
    hard_budget.reserve_delay = 0.3
    calls = []

    @hard()
    async def ask() -> dict[str, Any]:
        calls.append(1)
        return CHAT

    task = asyncio.ensure_future(ask())
    await asyncio.sleep(0.1)  # the reservation is on its way
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    wait_for(lambda: len(hard_budget.released) == 1)
    assert calls == []


def test_a_generator_reserves_on_first_next_and_settles_when_it_ends(
    hard_budget: FakeLLMLab,
) -> None:
    @hard()
    def stream() -> Iterator[dict[str, Any]]:
        yield from CHUNKS

    gen = stream()
    assert hard_budget.reservations == []  # nothing happens until it is iterated
    assert list(gen) == CHUNKS
    [event] = settled(hard_budget).event_list()
    assert event["reservation_id"] == hard_budget.settled[0]
    assert event["usage"] == CHUNKS[1]["usage"]


def test_a_refused_generator_raises_on_first_next(hard_budget: FakeLLMLab) -> None:
    hard_budget.hard_budget_usd = Decimal(0)
    made = []

    @hard()
    def stream() -> Iterator[dict[str, Any]]:
        made.append(1)
        yield from CHUNKS

    gen = stream()
    with pytest.raises(BudgetExceeded):
        next(gen)
    assert made == []


def test_a_returned_stream_closed_early_settles_its_hold(hard_budget: FakeLLMLab) -> None:
    def chunks() -> Iterator[dict[str, Any]]:
        yield from CHUNKS

    @hard()
    def ask() -> Iterator[dict[str, Any]]:
        return chunks()

    stream = ask()
    assert next(stream) == CHUNKS[0]
    assert hard_budget.holds  # held while the stream is open
    stream.close()  # type: ignore[attr-defined]
    [event] = settled(hard_budget).event_list()
    assert event["reservation_id"] == hard_budget.settled[0]


async def test_an_async_generator_is_held_and_settled(hard_budget: FakeLLMLab) -> None:
    @hard()
    async def stream() -> AsyncIterator[dict[str, Any]]:
        for chunk in CHUNKS:
            yield chunk

    assert [chunk async for chunk in stream()] == CHUNKS
    [event] = settled(hard_budget).event_list()
    assert event["reservation_id"] == hard_budget.settled[0]


# -- track() and configure() -------------------------------------------------------------------


def test_track_reserves_from_the_request_and_settles_with_the_first_record(
    hard_budget: FakeLLMLab,
) -> None:
    request = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 50,
    }
    with track(provider="openai", enforce_budget=True, request=request) as t:
        t.record(CHAT)

    [reservation] = hard_budget.reservations
    assert reservation == {
        "provider": "openai",
        "path": "/v1/chat/completions",
        "request": request,
    }
    [event] = settled(hard_budget).event_list()
    assert event["reservation_id"] == hard_budget.settled[0]


def test_track_refused_on_enter_never_runs_the_block(hard_budget: FakeLLMLab) -> None:
    hard_budget.hard_budget_usd = Decimal(0)
    ran = []
    with pytest.raises(BudgetExceeded):  # noqa: SIM117 - the point is the inner block
        with track(enforce_budget=True, model="gpt-4o-mini", max_output_tokens=10):
            ran.append(1)
    assert ran == []


def test_track_records_by_hand_and_releases_when_nothing_is_recorded(
    hard_budget: FakeLLMLab,
) -> None:
    with track(enforce_budget=True, model="gpt-4o-mini", max_output_tokens=10) as t:
        t.record(model="gpt-4o-mini", input_tokens=10, output_tokens=5)
    with track(enforce_budget=True, model="gpt-4o-mini", max_output_tokens=10):
        pass
    settled(hard_budget)
    assert len(hard_budget.settled) == 1
    assert len(hard_budget.released) == 1
    [event] = hard_budget.event_list()
    assert (event["input_tokens"], event["reservation_id"]) == (10, hard_budget.settled[0])


async def test_async_track_is_held_and_settled(hard_budget: FakeLLMLab) -> None:
    async with track(enforce_budget=True, model="gpt-4o-mini", max_output_tokens=10) as t:
        t.record(CHAT)
    assert len(settled(hard_budget).settled) == 1


def test_configure_turns_hard_mode_on_for_every_decorator_that_does_not_opt_out(
    hard_budget: FakeLLMLab,
) -> None:
    @track_cost(model="gpt-4o-mini")
    def default() -> dict[str, Any]:
        return CHAT

    @track_cost(model="gpt-4o-mini", enforce_budget=False)
    def opted_out() -> dict[str, Any]:
        return CHAT

    default()
    assert hard_budget.reservations == []
    llmlab.configure(enforce_budget=True)
    default()
    opted_out()
    assert len(hard_budget.reservations) == 1
    llmlab.configure(enforce_budget=False)
    default()
    assert len(hard_budget.reservations) == 1
    assert len(settled(hard_budget).settled) == 1


def test_budget_exceeded_survives_pickling() -> None:
    error = BudgetExceeded("no", status=429, code="budget_exceeded", model="m", provider="p")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is BudgetExceeded
    assert (str(copy), copy.status, copy.code, copy.model, copy.provider) == (
        "no",
        429,
        "budget_exceeded",
        "m",
        "p",
    )


# -- a real provider client, wrapped directly ----------------------------------------------------


@pytest.fixture(scope="module")
def stub() -> Iterator[StubUpstream]:
    with StubUpstream(load_fixtures()) as server:
        yield server


def test_a_wrapped_openai_stream_reserves_the_exact_request_and_settles_at_its_end(
    hard_budget: FakeLLMLab, stub: StubUpstream
) -> None:
    import openai

    fx = stub.fixture("openai/chat_stream_basic_gpt-4o-mini")
    client = openai.OpenAI(api_key="sk-test", base_url=stub.base_url(fx, "/v1"), max_retries=0)
    create = track_cost(client.chat.completions.create, enforce_budget=True)
    messages = fx.request_body["messages"]

    stream = create(
        model="gpt-4o-mini",
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
        max_tokens=64,
        timeout=30,
        extra_headers={"x-test": "1"},
    )
    assert hard_budget.holds  # held while the stream is open
    chunks = list(stream)

    assert chunks
    [reservation] = hard_budget.reservations
    assert reservation == {
        "provider": "openai",
        "path": "/v1/chat/completions",
        "request": {
            "model": "gpt-4o-mini",
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": 64,
        },
    }
    [event] = settled(hard_budget).event_list()
    assert event["reservation_id"] == hard_budget.settled[0]
    assert event["usage"]["prompt_tokens"] > 0


def test_a_refused_openai_call_never_reaches_the_upstream(
    hard_budget: FakeLLMLab, stub: StubUpstream
) -> None:
    import openai

    hard_budget.hard_budget_usd = Decimal(0)
    fx = stub.fixture("openai/chat_basic_gpt-4o-mini")
    client = openai.OpenAI(api_key="sk-test", base_url=stub.base_url(fx, "/v1"), max_retries=0)
    create = track_cost(client.chat.completions.create, enforce_budget=True)
    before = len(stub.requests)

    with pytest.raises(BudgetExceeded):
        create(model="gpt-4o-mini", messages=fx.request_body["messages"], max_tokens=64)
    assert len(stub.requests) == before


async def test_a_wrapped_async_client_method_is_reserved_without_blocking_and_settled(
    hard_budget: FakeLLMLab, stub: StubUpstream
) -> None:
    import openai

    fx = stub.fixture("openai/chat_basic_gpt-4o-mini")
    client = openai.AsyncOpenAI(api_key="sk-test", base_url=stub.base_url(fx, "/v1"), max_retries=0)
    # `create` is a sync wrapper (openai's `required_args`) around an `async def`.
    create = track_cost(client.chat.completions.create, enforce_budget=True)
    assert inspect.iscoroutinefunction(create)

    response = await create(model="gpt-4o-mini", messages=fx.request_body["messages"], max_tokens=9)
    await client.close()

    assert response.usage is not None
    [event] = settled(hard_budget).event_list()
    assert event["reservation_id"] == hard_budget.settled[0]


async def test_a_sync_function_returning_an_awaitable_settles_once_it_is_awaited(
    hard_budget: FakeLLMLab,
) -> None:
    async def answer() -> dict[str, Any]:
        return CHAT

    @hard()
    def ask() -> Any:
        return answer()

    assert await ask() is CHAT
    [event] = settled(hard_budget).event_list()
    assert event["reservation_id"] == hard_budget.settled[0]


@pytest.mark.allow_internal_errors
def test_an_error_inside_the_sdk_is_handled_like_an_unreachable_server(
    hard_budget: FakeLLMLab, monkeypatch: pytest.MonkeyPatch, internal_errors: list[BaseException]
) -> None:
    from llmlab import _reserve

    def broken(call: Any) -> bytes:
        raise RuntimeError("bug")

    monkeypatch.setattr(_reserve, "encode", broken)
    calls = []

    @hard()
    def ask() -> dict[str, Any]:
        calls.append(1)
        return CHAT

    assert ask() is CHAT  # open: made, unheld
    llmlab.configure(budget_failure="closed")
    with pytest.raises(BudgetCheckFailed, match="failed inside the SDK"):
        ask()
    assert calls == [1]
    assert [str(e) for e in internal_errors] == ["bug", "bug"]
    assert hard_budget.reservations == []
