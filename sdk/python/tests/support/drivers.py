"""Drive the real ``openai``, ``anthropic`` and ``google-genai`` clients at a ``StubUpstream``.

``run(fixture, stub, variant, decorate)`` makes the request the fixture
describes from inside a function decorated with ``decorate`` (a configured
``llmlab.track_cost(...)``), then consumes the result the way an application
would: streams are iterated to the end. It returns what the application got,
so a test can also check that the decorator changed nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from .stub_upstream import Fixture, StubUpstream

#: How a fixture is requested: plain or via the SDK's stream helper, sync or async.
SYNC, ASYNC, HELPER_SYNC, HELPER_ASYNC = "sync", "async", "helper-sync", "helper-async"

LIVE_APIS = {
    "openai.chat",
    "openai.responses",
    "openai.embeddings",
    "anthropic.messages",
    "gemini.generate_content",
}

Decorate = Callable[[Callable[..., Any]], Callable[..., Any]]


def is_live(fx: Fixture) -> bool:
    """Whether a real client can request this fixture (batch lines and raw JSON-array
    Gemini streams are not live calls)."""
    if fx.api not in LIVE_APIS:
        return False
    return not (fx.api == "gemini.generate_content" and fx.stream and not fx.is_sse)


def variants(fx: Fixture) -> list[str]:
    out = [SYNC, ASYNC]
    if fx.stream and fx.api in ("anthropic.messages", "openai.chat"):
        out += [HELPER_SYNC, HELPER_ASYNC]
    return out


def _split(body: dict[str, Any], *known: str) -> tuple[dict[str, Any], dict[str, Any]]:
    kwargs = {k: body[k] for k in known if k in body}
    extra = {k: v for k, v in body.items() if k not in known}
    return kwargs, extra


# -- clients ----------------------------------------------------------------------------


def openai_client(stub: StubUpstream, fx: Fixture, is_async: bool) -> Any:
    import openai

    cls = openai.AsyncOpenAI if is_async else openai.OpenAI
    return cls(api_key="sk-test", base_url=stub.base_url(fx, "/v1"), max_retries=0)


def anthropic_client(stub: StubUpstream, fx: Fixture, is_async: bool) -> Any:
    import anthropic

    cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
    return cls(api_key="sk-ant-test", base_url=stub.base_url(fx), max_retries=0)


def gemini_client(stub: StubUpstream, fx: Fixture) -> Any:
    from google import genai
    from google.genai import types

    version = fx.request["path"].split("/")[1]  # "v1beta" or "v1"
    return genai.Client(
        api_key="gemini-test",
        http_options=types.HttpOptions(base_url=stub.base_url(fx) + "/", api_version=version),
    )


# -- the requests -----------------------------------------------------------------------


def _openai_request(client: Any, fx: Fixture, helper: bool) -> Any:
    body = fx.request_body
    if fx.api == "openai.chat":
        kwargs, extra = _split(body, "model", "messages", "stream")
        if helper:
            kwargs.pop("stream", None)
            return client.chat.completions.stream(**kwargs, extra_body=extra)
        return client.chat.completions.create(**kwargs, extra_body=extra)
    if fx.api == "openai.responses":
        kwargs, extra = _split(body, "model", "input", "stream")
        return client.responses.create(**kwargs, extra_body=extra)
    kwargs, extra = _split(body, "model", "input")
    extra.pop("encoding_format", None)
    return client.embeddings.create(**kwargs, encoding_format="float", extra_body=extra)


def _anthropic_request(client: Any, fx: Fixture, helper: bool) -> Any:
    body = fx.request_body
    kwargs, extra = _split(body, "model", "messages", "max_tokens", "stream")
    kwargs.setdefault("max_tokens", 1024)
    if helper:
        kwargs.pop("stream", None)
        return client.messages.stream(**kwargs, extra_body=extra)
    return client.messages.create(**kwargs, extra_body=extra)


def run(fx: Fixture, stub: StubUpstream, variant: str, decorate: Decorate) -> Any:
    """Make the call inside a decorated function and consume it; returns what the app saw."""
    if variant in (ASYNC, HELPER_ASYNC):
        return asyncio.run(_run_async(fx, stub, variant, decorate))
    helper = variant == HELPER_SYNC
    provider = fx.api.split(".")[0]
    if provider == "gemini":
        client = gemini_client(stub, fx)

        @decorate
        def call() -> Any:
            model = fx.request["model"]
            if fx.stream:
                return client.models.generate_content_stream(model=model, contents="hi")
            return client.models.generate_content(model=model, contents="hi")

    else:
        client = (openai_client if provider == "openai" else anthropic_client)(stub, fx, False)
        request = _openai_request if provider == "openai" else _anthropic_request

        @decorate
        def call() -> Any:
            return request(client, fx, helper)

    result = call()
    if helper:
        with result as stream:
            return list(stream)
    if fx.stream:
        return list(result)
    return result


async def _run_async(fx: Fixture, stub: StubUpstream, variant: str, decorate: Decorate) -> Any:
    helper = variant == HELPER_ASYNC
    provider = fx.api.split(".")[0]
    if provider == "gemini":
        client = gemini_client(stub, fx)

        @decorate
        async def call() -> Any:
            model = fx.request["model"]
            if fx.stream:
                return await client.aio.models.generate_content_stream(model=model, contents="hi")
            return await client.aio.models.generate_content(model=model, contents="hi")

    else:
        client = (openai_client if provider == "openai" else anthropic_client)(stub, fx, True)
        request = _openai_request if provider == "openai" else _anthropic_request

        @decorate
        async def call() -> Any:
            made = request(client, fx, helper)
            return made if helper else await made

    result = await call()
    if helper:
        async with result as stream:
            return [item async for item in stream]
    if fx.stream:
        return [item async for item in result]
    return result
