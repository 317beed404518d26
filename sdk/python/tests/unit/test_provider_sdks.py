"""The real provider clients against the stub upstream: what the SDK extracts and sends.

The llmlab side here is the fake server; ``integration/`` repeats this
against a real ``llmlab serve`` and checks the costs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import llmlab
from llmlab import track_cost
from support import drivers
from support.expected_usage import (
    drop_nulls,
    expected_response_parts,
    expected_usage_and_model,
    items,
)
from support.fake_llmlab import FakeLLMLab
from support.stub_upstream import StubUpstream, load_fixtures

FIXTURES = load_fixtures()
LIVE = [(fx, v) for fx in FIXTURES if drivers.is_live(fx) for v in drivers.variants(fx)]


@pytest.fixture(scope="module")
def stub() -> Iterator[StubUpstream]:
    with StubUpstream(FIXTURES) as server:
        yield server


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(p.title() for p in rest)


def camel_keys(value: Any) -> Any:
    """google-genai may dump snake_case or camelCase; the server takes both, compare as camel."""
    if isinstance(value, dict):
        return {_camel(k): camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel_keys(v) for v in value]
    return value


def _identity(fn: Any) -> Any:
    return fn


def comparable(value: Any) -> Any:
    """A value's content, minus per-request HTTP details (google-genai keeps the headers)."""
    if isinstance(value, list):
        return [comparable(v) for v in value]
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        data = dump()
        if isinstance(data, dict):
            data.pop("sdk_http_response", None)
        return (type(value).__name__, data)
    return repr(value)


def assert_partial(fx: Any, event: dict[str, Any]) -> None:
    """A cut-off stream's running usage is sent with ``partial``: the server prices it as a
    lower bound. A chat stream with no usage at all has nothing to send (the SDK has no
    tokenizer; the proxy and ``llmlab cost`` estimate from the text): no usage, not partial."""
    if fx.expected.get("partial") and not fx.expected.get("estimated"):
        assert event.get("partial") is True, event
        assert event["partial_reason"], event
    else:
        assert "partial" not in event, event


@pytest.mark.parametrize(("fx", "variant"), LIVE, ids=[f"{f.key}-{v}" for f, v in LIVE])
def test_real_client_call_sends_the_raw_usage_and_model_and_returns_the_same_result(
    fx: Any, variant: str, stub: StubUpstream, tracking: FakeLLMLab
) -> None:
    provider = {"openai": "openai", "anthropic": "anthropic", "gemini": "google"}[fx.directory]
    plain = drivers.run(fx, stub, variant, _identity)
    tracked = drivers.run(fx, stub, variant, track_cost(provider=provider, project="p"))

    assert type(tracked) is type(plain)
    assert comparable(tracked) == comparable(plain)
    assert llmlab.flush(5) == 0
    [event] = tracking.event_list()
    usage, model = expected_usage_and_model(fx)
    assert event["provider"] == provider
    assert event["model"] == model
    assert event["status"] == "ok"
    assert_partial(fx, event)
    if fx.api.startswith("gemini"):
        assert camel_keys(event.get("usage")) == camel_keys(usage)
    else:
        assert event.get("usage") == usage
    assert event.get("response_parts") == expected_response_parts(fx)
    if fx.api.startswith("openai") and fx.api != "openai.embeddings":
        body = items(fx)[-1]
        tier = (body.get("response") or body).get("service_tier")
        assert event.get("service_tier") == tier


@pytest.mark.parametrize("fx", [f for f in FIXTURES if not drivers.is_live(f)], ids=lambda f: f.key)
def test_plain_dict_responses_and_chunks(fx: Any, tracking: FakeLLMLab) -> None:
    chunks = items(fx)

    if fx.stream:

        @track_cost
        def call() -> Any:
            yield from chunks

        assert list(call()) == chunks
    else:
        with llmlab.track() as t:
            assert t.record(chunks[0]) is chunks[0]
    assert llmlab.flush(5) == 0
    [event] = tracking.event_list()
    usage, model = expected_usage_and_model(fx)
    assert event.get("usage") == usage
    assert event.get("response_parts") == expected_response_parts(fx)
    assert event["model"] == model
    assert_partial(fx, event)
    if fx.api == "openai.batch_line":
        assert event["batch"] is True


def test_an_openai_stream_closed_early_is_still_recorded(
    stub: StubUpstream, tracking: FakeLLMLab
) -> None:
    fx = stub.fixture("openai/chat_stream_basic_gpt-4o-mini")
    client = drivers.openai_client(stub, fx, False)

    @track_cost
    def call() -> Any:
        body = fx.request_body
        return client.chat.completions.create(
            model=body["model"],
            messages=body["messages"],
            stream=True,
            stream_options={"include_usage": True},
        )

    stream = call()
    next(iter(stream))
    stream.close()
    assert llmlab.flush(5) == 0
    [event] = tracking.event_list()
    assert event["model"] == "gpt-4o-mini-2024-07-18"
    assert "usage" not in event  # closed before the usage chunk: usage unknown, never $0


def test_an_openai_stream_object_keeps_its_identity_and_type(
    stub: StubUpstream, tracking: FakeLLMLab
) -> None:
    import openai

    fx = stub.fixture("openai/chat_stream_basic_gpt-4o-mini")
    client = drivers.openai_client(stub, fx, False)
    made: list[Any] = []

    @track_cost
    def call() -> Any:
        body = fx.request_body
        stream = client.chat.completions.create(
            model=body["model"],
            messages=body["messages"],
            stream=True,
            stream_options={"include_usage": True},
        )
        made.append(stream)
        return stream

    with call() as stream:
        assert stream is made[0]
        assert isinstance(stream, openai.Stream)
        chunks = list(stream)
    assert chunks[-1].usage is not None
    assert llmlab.flush(5) == 0
    assert len(tracking.event_list()) == 1


def test_a_provider_error_is_reraised_unchanged(tracking: FakeLLMLab) -> None:
    import openai

    with StubUpstream([]) as empty:  # no fixtures: every request gets a 404
        client = openai.OpenAI(api_key="sk", base_url=empty.url + "/v1", max_retries=0)

        @track_cost(provider="openai", model="gpt-4o")
        def call() -> Any:
            return client.chat.completions.create(model="gpt-4o", messages=[])

        with pytest.raises(openai.NotFoundError) as info:
            call()
    assert "no fixture matches" in json.dumps(info.value.body)
    assert llmlab.flush(5) == 0
    [event] = tracking.event_list()
    # Recorded as the proxy records it: the HTTP status and the requested model.
    assert (event["status"], event["model"]) == ("404", "gpt-4o")
    assert drop_nulls(event).get("usage") is None
