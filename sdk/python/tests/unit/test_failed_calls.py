"""Calls the provider refused: the official clients raise; the SDK records them as the proxy does.

The stub upstream answers with the recorded error bodies of ``fixtures/errors``
(a 404 for an unknown model, a 429, a 500); the event must carry the requested
model and the HTTP status (the server prices that at $0), never model ``unknown``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

import llmlab
from llmlab import track_cost
from support import drivers
from support.fake_llmlab import FakeLLMLab
from support.stub_upstream import Fixture, StubUpstream, load_error_fixtures

ERRORS = load_error_fixtures()
CASES = [(fx, v) for fx in ERRORS for v in (drivers.SYNC, drivers.ASYNC)]


@pytest.fixture(scope="module")
def stub() -> Iterator[StubUpstream]:
    with StubUpstream(ERRORS) as server:
        yield server


def raised(call: Callable[[], Any]) -> Exception:
    """The exception ``call`` raised (each client raises its own class)."""
    try:
        call()
    except Exception as exc:  # returned to the test
        return exc
    raise AssertionError("the client did not raise")


def raised_status(exc: BaseException) -> Any:
    """What the official client says the status was (``status_code`` or google-genai's ``code``)."""
    return getattr(exc, "status_code", None) or getattr(exc, "code", None)


def test_every_error_fixture_is_a_real_error_answer() -> None:
    assert len(ERRORS) >= 6
    assert {fx.api.split(".")[0] for fx in ERRORS} == {"openai", "anthropic", "gemini"}
    assert all(fx.status >= 400 and fx.cost_usd == "0" for fx in ERRORS)


@pytest.mark.parametrize(("fx", "variant"), CASES, ids=[f"{f.key}-{v}" for f, v in CASES])
def test_a_refused_call_is_recorded_with_the_requested_model_and_the_http_status(
    fx: Fixture, variant: str, stub: StubUpstream, tracking: FakeLLMLab
) -> None:
    plain = raised(lambda: drivers.run(fx, stub, variant, lambda fn: fn))
    tracked = raised(lambda: drivers.run(fx, stub, variant, track_cost(project="p")))

    # The caller gets the client's own exception, unchanged.
    assert type(tracked) is type(plain)
    assert raised_status(tracked) == fx.status
    assert llmlab.flush(5) == 0
    [event] = tracking.event_list()
    assert event["status"] == str(fx.status)
    assert event["model"] == fx.expected["model"] == fx.request["model"]
    # The provider comes from the client's exception when the decorator does not name it.
    assert event["provider"] == fx.expected["provider"]
    assert "usage" not in event and "cost_usd" not in event
    assert event["project"] == "p"


def test_the_decorators_provider_and_the_track_context_manager_record_a_refusal_too(
    stub: StubUpstream, tracking: FakeLLMLab
) -> None:
    import openai

    fx = next(f for f in ERRORS if f.key == "errors/openai_chat_rate_limited")
    client = drivers.openai_client(stub, fx, False)

    @track_cost(provider="azure-openai", model="fallback-model")
    def ask() -> Any:
        return client.chat.completions.create(model="gpt-4o", messages=[])

    with pytest.raises(openai.RateLimitError):
        ask()
    with pytest.raises(openai.RateLimitError), llmlab.track(provider="openai"):
        client.chat.completions.create(model="gpt-4o", messages=[])

    assert llmlab.flush(5) == 0
    decorated, managed = tracking.event_list()
    assert [(e["provider"], e["model"], e["status"]) for e in (decorated, managed)] == [
        ("azure-openai", "gpt-4o", "429"),
        ("openai", "gpt-4o", "429"),
    ]


def test_an_exception_without_an_http_answer_stays_an_error_of_the_named_model(
    tracking: FakeLLMLab,
) -> None:
    @track_cost(provider="openai", model="gpt-4o")
    def broken() -> Any:
        raise ConnectionError("reset by peer")

    with pytest.raises(ConnectionError):
        broken()

    assert llmlab.flush(5) == 0
    [event] = tracking.event_list()
    assert (event["provider"], event["model"], event["status"]) == ("openai", "gpt-4o", "error")


def test_the_servers_word_on_an_unknown_provider_is_logged_once_per_provider(
    tracking: FakeLLMLab, caplog: pytest.LogCaptureFixture
) -> None:
    from support.fake_llmlab import Scripted

    reason = (
        "provider `opena` is not built in (did you mean `openai`?); price its models with "
        "`llmlab prices set gpt-4o --provider opena …` or POST /api/prices"
    )
    result = {"event_id": "x", "duplicate": False, "priced": False, "cost_usd": None}
    result.update(unpriced_code="unknown_provider", unpriced_reason=reason)
    answer = {"inserted": 1, "duplicates": 0, "results": [result], "budget": tracking.budget}
    tracking.script = [Scripted(201, answer), Scripted(201, answer)]
    caplog.set_level("WARNING", logger="llmlab")

    with llmlab.track(provider="opena") as t:
        t.record(model="gpt-4o", input_tokens=1)
    assert llmlab.flush(5) == 0
    with llmlab.track(provider="opena") as t:
        t.record(model="gpt-4o", input_tokens=1)
    assert llmlab.flush(5) == 0

    warnings = [r.getMessage() for r in caplog.records if "opena" in r.getMessage()]
    assert warnings == [f"llmlab: {reason}"]


HELPERS = [
    (fx, v)
    for fx in ERRORS
    if fx.api in ("openai.chat", "anthropic.messages")
    for v in (drivers.HELPER_SYNC, drivers.HELPER_ASYNC)
]


@pytest.mark.parametrize(("fx", "variant"), HELPERS, ids=[f"{f.key}-{v}" for f, v in HELPERS])
def test_a_stream_helper_whose_request_is_refused_is_recorded_as_a_refusal(
    fx: Fixture, variant: str, stub: StubUpstream, tracking: FakeLLMLab
) -> None:
    tracked = raised(lambda: drivers.run(fx, stub, variant, track_cost()))

    assert raised_status(tracked) == fx.status
    assert llmlab.flush(5) == 0
    [event] = tracking.event_list()
    assert (event["provider"], event["model"], event["status"]) == (
        fx.expected["provider"],
        fx.request["model"],
        str(fx.status),
    )


def test_a_generator_whose_stream_request_is_refused_is_recorded_as_a_refusal(
    stub: StubUpstream, tracking: FakeLLMLab
) -> None:
    fx = next(f for f in ERRORS if f.key == "errors/gemini_generate_model_not_found")
    client = drivers.gemini_client(stub, fx)

    @track_cost(project="gen")
    def chunks() -> Iterator[Any]:
        yield from client.models.generate_content_stream(model="gemini-9-flash", contents="hi")

    @track_cost(project="agen")
    async def async_chunks() -> AsyncIterator[Any]:
        stream = await client.aio.models.generate_content_stream(
            model="gemini-9-flash", contents="hi"
        )
        async for chunk in stream:
            yield chunk

    async def consume() -> list[Any]:
        return [chunk async for chunk in async_chunks()]

    assert raised_status(raised(lambda: list(chunks()))) == 404
    assert raised_status(raised(lambda: asyncio.run(consume()))) == 404
    assert llmlab.flush(5) == 0
    events = tracking.event_list()
    assert [(e["project"], e["provider"], e["model"], e["status"]) for e in events] == [
        ("gen", "google", "gemini-9-flash", "404"),
        ("agen", "google", "gemini-9-flash", "404"),
    ]
