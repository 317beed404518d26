"""The official OpenAI, Anthropic and Google GenAI clients through `llmlab serve`'s proxy.

Each client only changes its base URL (``{server}/proxy/openai/v1``,
``{server}/proxy/anthropic``, ``{server}/proxy/gemini``) and adds the
``X-LLMLab-Key`` header. A stub upstream serves the shared fixtures; every
test checks that the client got exactly what the stub sent and that the
recorded cost equals the fixture's ``cost_usd`` to the last digit.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Callable

import pytest
from proxy_support import PIN_HEADER, Fixture, PinnedStub, cost_of, invalid_fixture, load_fixtures, wait_for_events

# The fixtures use models the SDKs already call deprecated; that is not what is under test.
pytestmark = pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")

LIVE = [
    fx
    for fx in load_fixtures()
    # A Batch API output line is never a live call; google-genai always asks for SSE, so the
    # JSON-array stream is tested with a plain HTTP client below.
    if fx.api != "openai.batch_line" and not (fx.api == "gemini.generate_content" and fx.stream and not fx.is_sse)
]
NO_USAGE_STREAM = invalid_fixture("chat_stream_without_include_usage", "openai.chat", True, "/v1/chat/completions")


@pytest.fixture(scope="module")
def stub() -> Iterator[PinnedStub]:
    fixtures = [*load_fixtures(), NO_USAGE_STREAM]
    with PinnedStub(fixtures, chunked=True) as running:
        yield running


@pytest.fixture
def proxy(server_factory: Callable[..., Any], stub: PinnedStub, request: pytest.FixtureRequest) -> Any:
    """A fresh `llmlab serve` whose three upstreams are the stub."""
    # Like the providers: streams go out in chunks as they are generated, whole
    # answers with a Content-Length (the proxy forwards those once complete).
    fx = getattr(request.node, "callspec", None) and request.node.callspec.params.get("fx")
    stub.chunked = bool(fx is None or fx.stream)
    return server_factory(
        env={
            "LLMLAB_UPSTREAM_OPENAI": stub.url,
            "LLMLAB_UPSTREAM_ANTHROPIC": stub.url,
            "LLMLAB_UPSTREAM_GEMINI": stub.url,
            "LLMLAB_LOG": "debug,sqlx=warn",
        }
    )


def _split(body: dict[str, Any], *known: str) -> tuple[dict[str, Any], dict[str, Any]]:
    kwargs = {k: body[k] for k in known if k in body}
    return kwargs, {k: v for k, v in body.items() if k not in known}


def _openai_call(client: Any, fx: Fixture, raw: str) -> Any:
    """``raw`` is ``with_raw_response`` or ``with_streaming_response``."""
    body = fx.request_body
    if fx.api == "openai.chat":
        kwargs, extra = _split(body, "model", "messages", "stream")
        return getattr(client.chat.completions, raw).create(**kwargs, extra_body=extra)
    if fx.api == "openai.responses":
        kwargs, extra = _split(body, "model", "input", "stream")
        return getattr(client.responses, raw).create(**kwargs, extra_body=extra)
    kwargs, extra = _split(body, "model", "input")
    extra.pop("encoding_format", None)
    return getattr(client.embeddings, raw).create(**kwargs, encoding_format="float", extra_body=extra)


def _anthropic_call(client: Any, fx: Fixture, raw: str) -> Any:
    kwargs, extra = _split(fx.request_body, "model", "messages", "max_tokens", "stream")
    kwargs.setdefault("max_tokens", 1024)
    return getattr(client.messages, raw).create(**kwargs, extra_body=extra)


def _assert_recorded(proxy: Any, key: str, fx: Fixture) -> dict[str, str]:
    event = wait_for_events(proxy.base_url, key, 1)[0]
    expected = fx.cost_usd
    if expected is None:
        assert cost_of(event) is None, event
        assert event["unpriced_reason"], event
    else:
        assert cost_of(event) == Decimal(expected), (fx.key, event)
    assert event["model"] == fx.expected["model"], event
    assert event["provider"] == fx.expected["provider"], event
    # The proxy sees the request too, so it also notes a tier other than the one asked for.
    for wanted in fx.expected.get("notes", []) + fx.expected.get("request_notes", []):
        assert wanted in event["notes"], (fx.key, wanted, event["notes"])
    assert event["status"] == "ok", event
    return event


@pytest.mark.parametrize("fx", [f for f in LIVE if f.directory == "openai"], ids=lambda f: f.name)
def test_openai_client_through_the_proxy(proxy: Any, stub: PinnedStub, fx: Fixture) -> None:
    import openai

    key = proxy.signup()
    client = openai.OpenAI(
        api_key="sk-provider-test",
        base_url=f"{proxy.base_url}/proxy/openai/v1",
        default_headers={"X-LLMLab-Key": key, PIN_HEADER: fx.key},
        max_retries=0,
    )

    if fx.stream:
        with _openai_call(client, fx, "with_streaming_response") as response:
            received = b"".join(response.iter_bytes())
    else:
        response = _openai_call(client, fx, "with_raw_response")
        received = response.http_response.content
        parsed = response.parse()
        assert parsed.model == fx.expected["model"]

    assert received == fx.body
    assert stub.last_headers()["authorization"] == "Bearer sk-provider-test"
    assert not [h for h in stub.last_headers() if h.startswith("x-llmlab-")]
    _assert_recorded(proxy, key, fx)


@pytest.mark.parametrize("fx", [f for f in LIVE if f.directory == "anthropic"], ids=lambda f: f.name)
def test_anthropic_client_through_the_proxy(proxy: Any, stub: PinnedStub, fx: Fixture) -> None:
    import anthropic

    key = proxy.signup()
    client = anthropic.Anthropic(
        api_key="sk-ant-provider-test",
        base_url=f"{proxy.base_url}/proxy/anthropic",
        default_headers={"X-LLMLab-Key": key, PIN_HEADER: fx.key},
        max_retries=0,
    )

    if fx.stream:
        with _anthropic_call(client, fx, "with_streaming_response") as response:
            received = b"".join(response.iter_bytes())
    else:
        response = _anthropic_call(client, fx, "with_raw_response")
        received = response.http_response.content
        assert response.parse().usage.output_tokens == json.loads(fx.body)["usage"]["output_tokens"]

    assert received == fx.body
    # Older SDKs send `x-api-key`, newer ones `Authorization: Bearer`: either way, untouched.
    seen = stub.last_headers()
    assert "sk-ant-provider-test" in (seen.get("x-api-key") or seen.get("authorization") or "")
    _assert_recorded(proxy, key, fx)


def _sse_frames(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line[5:]) for line in body.decode().splitlines() if line.startswith("data:")]


def _assert_same_gemini_response(got: Any, sent: dict[str, Any]) -> None:
    """google-genai exposes parsed objects only: compare them field by field with what was sent."""
    assert got.response_id == sent.get("responseId")
    assert got.model_version == sent.get("modelVersion")
    usage = sent.get("usageMetadata") or {}
    if usage:
        assert got.usage_metadata.prompt_token_count == usage.get("promptTokenCount")
        assert got.usage_metadata.candidates_token_count == usage.get("candidatesTokenCount")
        assert got.usage_metadata.thoughts_token_count == usage.get("thoughtsTokenCount")
        assert got.usage_metadata.cached_content_token_count == usage.get("cachedContentTokenCount")
        assert got.usage_metadata.total_token_count == usage.get("totalTokenCount")
    sent_texts = [p.get("text") for c in sent.get("candidates", []) for p in c["content"].get("parts", [])]
    got_texts = [p.text for c in (got.candidates or []) for p in (c.content.parts or [])]
    assert got_texts == sent_texts


@pytest.mark.parametrize("fx", [f for f in LIVE if f.directory == "gemini"], ids=lambda f: f.name)
def test_google_genai_client_through_the_proxy(proxy: Any, stub: PinnedStub, fx: Fixture) -> None:
    from google import genai
    from google.genai import types

    key = proxy.signup()
    client = genai.Client(
        api_key="AIza-provider-test",
        http_options=types.HttpOptions(
            base_url=f"{proxy.base_url}/proxy/gemini",
            headers={"X-LLMLab-Key": key, PIN_HEADER: fx.key},
        ),
    )
    model = fx.request["model"]

    if fx.stream:
        chunks = list(client.models.generate_content_stream(model=model, contents="hi"))
        sent = _sse_frames(fx.body)
        assert len(chunks) == len(sent)
        for got, frame in zip(chunks, sent):
            _assert_same_gemini_response(got, frame)
    else:
        _assert_same_gemini_response(client.models.generate_content(model=model, contents="hi"), json.loads(fx.body))

    assert stub.last_headers()["x-goog-api-key"] == "AIza-provider-test"
    event = wait_for_events(proxy.base_url, key, 1)[0]
    expected = fx.cost_usd
    assert cost_of(event) == (None if expected is None else Decimal(expected)), (fx.key, event)
    assert event["model"] == fx.expected["model"]
    assert event["provider"] == "google"


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read(), {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as error:
        return error.code, error.read(), {k.lower(): v for k, v in error.headers.items()}


def test_a_gemini_json_array_stream_with_the_key_in_the_query(proxy: Any, stub: PinnedStub) -> None:
    fx = next(f for f in load_fixtures() if f.name == "stream_json_array_gemini-2.5-pro")
    key = proxy.signup()
    secret = "AIza-query-secret-1234"

    status, received, _ = _post(
        f"{proxy.base_url}/proxy/gemini/v1beta/models/gemini-2.5-pro:streamGenerateContent?key={secret}",
        json.dumps(fx.request_body).encode(),
        {"X-LLMLab-Key": key, PIN_HEADER: fx.key, "content-type": "application/json"},
    )

    assert status == 200
    assert received == fx.body
    assert stub.requests[-1]["path"].endswith(f"?key={secret}"), "the query goes upstream untouched"
    event = wait_for_events(proxy.base_url, key, 1)[0]
    assert cost_of(event) == Decimal(fx.cost_usd)
    assert secret not in proxy.log(), "a Gemini key in the query must never be logged"


def test_a_chat_stream_without_include_usage_is_recorded_as_usage_unknown(proxy: Any) -> None:
    import openai

    key = proxy.signup()
    client = openai.OpenAI(
        api_key="sk-test",
        base_url=f"{proxy.base_url}/proxy/openai/v1",
        default_headers={"X-LLMLab-Key": key, PIN_HEADER: NO_USAGE_STREAM.key},
        max_retries=0,
    )

    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True))

    assert chunks and all(chunk.usage is None for chunk in chunks)
    event = wait_for_events(proxy.base_url, key, 1)[0]
    assert cost_of(event) is None
    assert "include_usage" in event["unpriced_reason"]
    assert event["model"] == "gpt-4o-mini"


def test_over_a_hard_budget_the_clients_raise_their_rate_limit_errors(proxy: Any, stub: PinnedStub) -> None:
    import anthropic
    import openai
    from google import genai
    from google.genai import errors, types

    key = proxy.signup()
    # A hard budget holds each call's worst case before sending it: for this request about
    # $0.000165 (its body's bytes + 1,024 tokens of input, 5 tokens of output).
    status, _ = proxy.request("POST", "/api/budgets", {"amount_usd": "0.00018", "period": "monthly"}, key=key)
    assert status in (200, 201)
    status, _ = proxy.request("PATCH", "/api/account", {"hard_budget": True}, key=key)
    assert status == 200
    headers = {"X-LLMLab-Key": key, PIN_HEADER: "openai/chat_basic_gpt-4o-mini"}
    openai_client = openai.OpenAI(api_key="sk", base_url=f"{proxy.base_url}/proxy/openai/v1", default_headers=headers)
    # Held, sent, and recorded at its actual $0.00002925.
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=[], max_tokens=5)
    wait_for_events(proxy.base_url, key, 1)
    sent_before = len(stub.requests)

    # $0.00002925 spent + another worst case is over $0.00018: not sent.
    with pytest.raises(openai.RateLimitError, match="hard budget reached: the month budget of the account"):
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=[], max_tokens=5)
    anthropic_client = anthropic.Anthropic(
        api_key="sk-ant", base_url=f"{proxy.base_url}/proxy/anthropic", default_headers={"X-LLMLab-Key": key}
    )
    with pytest.raises(anthropic.RateLimitError, match="hard budget"):
        anthropic_client.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=[])
    gemini_client = genai.Client(
        api_key="AIza",
        http_options=types.HttpOptions(base_url=f"{proxy.base_url}/proxy/gemini", headers={"X-LLMLab-Key": key}),
    )
    with pytest.raises(errors.ClientError) as refused:
        gemini_client.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert refused.value.code == 429

    assert len(stub.requests) == sent_before, "nothing was forwarded, and the clients did not retry"


def test_an_unreachable_upstream_is_a_502_in_the_providers_format(server_factory: Callable[..., Any]) -> None:
    import openai

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    proxy = server_factory(env={"LLMLAB_UPSTREAM_OPENAI": closed})
    key = proxy.signup()
    client = openai.OpenAI(
        api_key="sk", base_url=f"{proxy.base_url}/proxy/openai/v1", default_headers={"X-LLMLab-Key": key}, max_retries=0
    )

    with pytest.raises(openai.InternalServerError) as failed:
        client.chat.completions.create(model="gpt-4o", messages=[])

    assert failed.value.status_code == 502
    assert failed.value.response.headers["x-llmlab-error"] == "llmlab_upstream_unavailable"
    event = wait_for_events(proxy.base_url, key, 1)[0]
    assert (event["status"], event["cost_usd"], event["model"]) == ("502", "0", "gpt-4o")
