"""@track_cost and track(): shapes, and that the wrapped code behaves exactly as before."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

import llmlab
from llmlab import track, track_cost
from support.fake_llmlab import FakeLLMLab

CHAT = {
    "object": "chat.completion",
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [],
    "usage": {"prompt_tokens": 31, "completion_tokens": 41, "total_tokens": 72},
    "service_tier": "default",
}


class Boom(Exception):
    pass


def _events(server: FakeLLMLab) -> list[dict[str, Any]]:
    assert llmlab.flush(5) == 0
    return server.event_list()


def test_bare_decorator_returns_the_same_object_and_sends_the_raw_usage(
    tracking: FakeLLMLab,
) -> None:
    @track_cost
    def ask(q: str) -> dict[str, Any]:
        """Doc."""
        return CHAT

    assert ask("hi") is CHAT
    assert ask.__name__ == "ask"
    assert ask.__doc__ == "Doc."
    assert str(inspect.signature(ask)) == "(q: 'str') -> 'dict[str, Any]'"
    [event] = _events(tracking)
    assert event["provider"] == "openai"
    assert event["model"] == "gpt-4o-mini-2024-07-18"
    assert event["usage"] == CHAT["usage"]
    assert event["service_tier"] == "default"
    assert event["status"] == "ok"
    assert event["event_id"][14] == "7"  # UUIDv7
    assert event["timestamp"].endswith("Z")
    assert isinstance(event["latency_ms"], int)


def test_decorator_arguments_label_the_event(tracking: FakeLLMLab) -> None:
    @track_cost(provider="azure", project="checkout", tags={"team": "growth", "n": 3})
    def ask() -> dict[str, Any]:
        return CHAT

    ask()
    [event] = _events(tracking)
    assert event["provider"] == "azure"
    assert event["project"] == "checkout"
    assert event["tags"] == {"team": "growth", "n": "3"}


def test_configure_defaults_for_project_and_tags_merge_with_the_decorators(
    tracking: FakeLLMLab,
) -> None:
    llmlab.configure(project="default-proj", tags={"env": "ci", "team": "x"})

    @track_cost(tags={"team": "y"})
    def ask() -> dict[str, Any]:
        return CHAT

    ask()
    [event] = _events(tracking)
    assert event["project"] == "default-proj"
    assert event["tags"] == {"env": "ci", "team": "y"}


def test_exceptions_propagate_unchanged_and_are_recorded_as_errors(tracking: FakeLLMLab) -> None:
    err = Boom("upstream said no")

    @track_cost(provider="openai", model="gpt-4o")
    def ask() -> None:
        raise err

    with pytest.raises(Boom) as info:
        ask()
    assert info.value is err
    [event] = _events(tracking)
    assert event["status"] == "error"
    assert event["model"] == "gpt-4o"
    assert "usage" not in event
    assert "input_tokens" not in event


async def test_async_functions(tracking: FakeLLMLab) -> None:
    @track_cost(provider="openai")
    async def ask() -> dict[str, Any]:
        await asyncio.sleep(0)
        return CHAT

    assert inspect.iscoroutinefunction(ask)
    assert await ask() is CHAT

    @track_cost
    async def fails() -> None:
        raise Boom()

    with pytest.raises(Boom):
        await fails()
    events = _events(tracking)
    assert sorted(e["status"] for e in events) == ["error", "ok"]


def test_generator_functions_keep_send_and_return_value(tracking: FakeLLMLab) -> None:
    chunks = [
        {"object": "chat.completion.chunk", "model": "gpt-4o-mini", "choices": [{}], "usage": None},
        {
            "object": "chat.completion.chunk",
            "model": "gpt-4o-mini",
            "choices": [],
            "usage": {"prompt_tokens": 9, "completion_tokens": 2},
        },
    ]

    @track_cost
    def gen() -> Any:
        got = []
        for chunk in chunks:
            got.append((yield chunk))
        return got

    assert inspect.isgeneratorfunction(gen)
    g = gen()
    assert next(g) is chunks[0]
    assert g.send("a") is chunks[1]
    with pytest.raises(StopIteration) as stop:
        g.send("b")
    assert stop.value.value == ["a", "b"]
    [event] = _events(tracking)
    assert event["usage"] == {"prompt_tokens": 9, "completion_tokens": 2}
    assert event["model"] == "gpt-4o-mini"


def test_generator_exceptions_and_throw_are_forwarded(tracking: FakeLLMLab) -> None:
    @track_cost(provider="openai", model="m")
    def gen() -> Any:
        try:
            yield 1
        except KeyError:
            yield "handled"
        raise Boom("late")

    g = gen()
    assert next(g) == 1
    assert g.throw(KeyError("k")) == "handled"
    with pytest.raises(Boom, match="late"):
        next(g)
    [event] = _events(tracking)
    assert event["status"] == "error"


def test_generator_closed_early_still_records(tracking: FakeLLMLab) -> None:
    closed = []

    @track_cost(provider="google")
    def gen() -> Any:
        try:
            yield {"usageMetadata": {"promptTokenCount": 1}, "modelVersion": "gemini-2.5-flash"}
            yield {"usageMetadata": {"promptTokenCount": 2}, "modelVersion": "gemini-2.5-flash"}
        finally:
            closed.append(True)

    g = gen()
    next(g)
    g.close()
    assert closed == [True]
    [event] = _events(tracking)
    assert event["usage"] == {"promptTokenCount": 1}


async def test_async_generator_functions(tracking: FakeLLMLab) -> None:
    @track_cost
    async def agen() -> Any:
        got = yield {
            "type": "message_start",
            "message": {
                "model": "claude-haiku-4-5",
                "usage": {"input_tokens": 5, "output_tokens": 1},
            },
        }
        assert got == "x"
        yield {"type": "message_delta", "usage": {"output_tokens": 7}}

    assert inspect.isasyncgenfunction(agen)
    g = agen()
    first = await g.__anext__()
    assert first["type"] == "message_start"
    second = await g.asend("x")
    assert second["type"] == "message_delta"
    with pytest.raises(StopAsyncIteration):
        await g.__anext__()
    [event] = _events(tracking)
    assert event["provider"] == "anthropic"
    assert event["usage"] == {"input_tokens": 5, "output_tokens": 7}


async def test_async_generator_exception_propagates(tracking: FakeLLMLab) -> None:
    @track_cost(provider="openai", model="m")
    async def agen() -> Any:
        yield 1
        raise Boom()

    results = []
    with pytest.raises(Boom):
        async for item in agen():
            results.append(item)
    assert results == [1]
    [event] = _events(tracking)
    assert event["status"] == "error"


def test_function_returning_a_generator_gets_it_followed(tracking: FakeLLMLab) -> None:
    def stream() -> Any:
        yield {"modelVersion": "gemini-2.5-flash", "usageMetadata": {"promptTokenCount": 4}}
        yield {
            "modelVersion": "gemini-2.5-flash",
            "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 8},
        }

    @track_cost
    def ask() -> Any:
        return stream()

    items = list(ask())
    assert len(items) == 2
    [event] = _events(tracking)
    assert event["provider"] == "google"
    assert event["usage"] == {"promptTokenCount": 4, "candidatesTokenCount": 8}


def test_methods_can_be_decorated(tracking: FakeLLMLab) -> None:
    class Bot:
        @track_cost(provider="openai")
        def ask(self) -> dict[str, Any]:
            return CHAT

        @track_cost
        async def aask(self) -> dict[str, Any]:
            return CHAT

    assert Bot().ask() is CHAT
    assert asyncio.run(Bot().aask()) is CHAT
    assert len(_events(tracking)) == 2


def test_track_context_manager_records_responses_and_manual_counts(tracking: FakeLLMLab) -> None:
    with track(provider="anthropic", project="p1", tags={"k": "v"}) as t:
        assert t.record(CHAT) is CHAT
        t.record(model="claude-haiku-4-5", input_tokens=10, output_tokens=20, cache_read_tokens=3)
    events = sorted(_events(tracking), key=lambda e: e["model"])
    manual = events[0]
    assert manual["model"] == "claude-haiku-4-5"
    assert manual["provider"] == "anthropic"
    assert manual["input_tokens"] == 10
    assert manual["output_tokens"] == 20
    assert manual["cache_read_tokens"] == 3
    assert "usage" not in manual
    assert manual["project"] == "p1"
    assert events[1]["usage"] == CHAT["usage"]


async def test_async_track_context_manager(tracking: FakeLLMLab) -> None:
    async with track(provider="openai") as t:
        t.record(model="gpt-4o", input_tokens=1, output_tokens=2, cost_usd="0.5")
    [event] = _events(tracking)
    assert event["cost_usd"] == "0.5"


def test_track_block_that_raises_records_an_error_and_reraises(tracking: FakeLLMLab) -> None:
    with pytest.raises(Boom), track(provider="openai", model="gpt-4o"):
        raise Boom()
    [event] = _events(tracking)
    assert event["status"] == "error"


def test_a_return_value_without_usage_is_not_sent_unless_a_model_was_given(
    tracking: FakeLLMLab,
) -> None:
    @track_cost(provider="openai")
    def text() -> str:
        return "just text"

    @track_cost(provider="openai", model="gpt-4o")
    def text_with_model() -> str:
        return "just text"

    assert text() == "just text"
    assert text_with_model() == "just text"
    [event] = _events(tracking)
    assert event["model"] == "gpt-4o"
    assert "usage" not in event


def test_an_openai_stream_without_usage_is_sent_as_usage_unknown(tracking: FakeLLMLab) -> None:
    chunks = [{"object": "chat.completion.chunk", "model": "gpt-4o-mini", "choices": [{}]}]

    @track_cost
    def ask() -> Any:
        return iter_chunks(chunks)

    def iter_chunks(items: list[Any]) -> Any:
        yield from items

    assert list(ask()) == chunks
    [event] = _events(tracking)
    assert event["model"] == "gpt-4o-mini"
    assert "usage" not in event
    assert not any(k.endswith("_tokens") for k in event)


def test_disabled_sdk_is_a_pure_passthrough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMLAB_DISABLED", "1")
    monkeypatch.setenv("LLMLAB_API_KEY", "llm_x")

    def gen() -> Any:
        yield 1

    @track_cost
    def ask() -> Any:
        return gen

    assert ask() is gen
    assert llmlab.flush(0.1) == 0
