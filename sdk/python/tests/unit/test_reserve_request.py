"""What hard mode sends to ``POST /api/budgets/reserve`` for each way of calling a provider.

No network: ``describe`` only reads the call's arguments, and the official
clients' methods are inspected, never called.
"""

from __future__ import annotations

import json
from typing import Any, Optional

import pytest

from llmlab import BudgetUnbounded, _reserve
from llmlab._reserve import Target, describe, encode

MESSAGES = [{"role": "user", "content": "Name three grey cats."}]


def sent(fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """The reserve request body for calling ``fn(*args, **kwargs)`` (no decorator options)."""
    return reserve_body(fn, args, kwargs)


def reserve_body(
    fn: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    provider: Optional[str] = None,
    model: Optional[str] = None,
    max_output_tokens: Optional[int] = None,
) -> dict[str, Any]:
    call = describe(Target(fn), args, kwargs, provider, model, max_output_tokens, None, None)
    body = json.loads(encode(call))
    assert isinstance(body, dict)
    return body


def test_openai_chat_sends_the_body_the_client_would_send() -> None:
    import openai

    client = openai.OpenAI(api_key="sk-test")
    body = sent(
        client.chat.completions.create,
        model="gpt-4o-mini",
        messages=MESSAGES,
        max_completion_tokens=64,
        timeout=10,
        extra_headers={"x": "1"},
        extra_query={"q": "1"},
        extra_body={"service_tier": "priority"},
    )
    assert body == {
        "provider": "openai",
        "path": "/v1/chat/completions",
        "request": {
            "model": "gpt-4o-mini",
            "messages": MESSAGES,
            "max_completion_tokens": 64,
            "service_tier": "priority",
        },
    }


def test_openai_responses_embeddings_and_async_clients_name_their_api() -> None:
    import openai

    client = openai.OpenAI(api_key="sk-test")
    aclient = openai.AsyncOpenAI(api_key="sk-test")
    responses = sent(client.responses.create, model="gpt-5-mini", input="hi", max_output_tokens=9)
    assert responses["path"] == "/v1/responses"
    assert responses["request"] == {"model": "gpt-5-mini", "input": "hi", "max_output_tokens": 9}
    embeddings = sent(client.embeddings.create, model="text-embedding-3-small", input=["a"])
    assert embeddings["path"] == "/v1/embeddings"
    chat = sent(aclient.chat.completions.create, model="gpt-4o", messages=MESSAGES, max_tokens=5)
    assert (chat["provider"], chat["path"]) == ("openai", "/v1/chat/completions")


def test_anthropic_messages_leave_out_the_beta_header_list() -> None:
    import anthropic

    client = anthropic.Anthropic(api_key="sk-ant-test")
    body = sent(
        client.beta.messages.create,
        model="claude-haiku-4-5",
        max_tokens=100,
        system="Be brief.",
        messages=MESSAGES,
        betas=["context-1m-2025-08-07"],
    )
    assert body == {
        "provider": "anthropic",
        "path": "/v1/messages",
        "request": {
            "model": "claude-haiku-4-5",
            "max_tokens": 100,
            "system": "Be brief.",
            "messages": MESSAGES,
        },
    }


def test_google_genai_config_becomes_the_rest_body_with_tools_at_the_top() -> None:
    from google import genai
    from google.genai import types

    client = genai.Client(api_key="gemini-test")
    config = types.GenerateContentConfig(
        max_output_tokens=50,
        temperature=0.2,
        system_instruction="Be brief.",
        tools=[types.Tool(google_search=types.GoogleSearch())],
    )
    for method in (client.models.generate_content, client.aio.models.generate_content_stream):
        body = sent(method, model="models/gemini-2.5-flash", contents="hi", config=config)
        assert body["provider"] == "google"
        assert body["path"] == "/v1beta/models/gemini-2.5-flash:generateContent"
        request = body["request"]
        assert request["contents"] == "hi"
        assert request["generationConfig"] == {"maxOutputTokens": 50, "temperature": 0.2}
        assert request["systemInstruction"] == "Be brief."
        assert request["tools"] == [{"googleSearch": {}}]


def test_a_google_request_given_as_plain_dicts_is_recognized_by_its_contents() -> None:
    def ask(**kwargs: Any) -> None:
        return None

    body = sent(
        ask,
        model="gemini-2.5-flash",
        contents=[{"role": "user", "parts": [{"text": "hi"}]}],
        config={"max_output_tokens": 20},
    )
    assert body == {
        "provider": "google",
        "path": "/v1beta/models/gemini-2.5-flash:generateContent",
        "request": {
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "generationConfig": {"max_output_tokens": 20},
        },
    }


def test_an_application_function_sends_its_request_arguments_positional_and_default() -> None:
    class Client:
        pass

    def ask(
        model: str, messages: list[Any], max_tokens: int = 300, client: Optional[Client] = None
    ) -> None:
        return None

    body = sent(ask, "claude-sonnet-4-5", MESSAGES, client=Client())
    assert body == {
        "provider": "anthropic",
        "path": "/v1/messages",
        "request": {"model": "claude-sonnet-4-5", "messages": MESSAGES, "max_tokens": 300},
    }


def test_a_model_argument_alone_reserves_by_model_and_output_limit() -> None:
    def ask(question: str, model: str = "gpt-4o", max_tokens: int = 200) -> None:
        return None

    assert sent(ask, "hi") == {"provider": "openai", "model": "gpt-4o", "max_output_tokens": 200}


def test_the_decorators_model_is_the_fallback() -> None:
    def ask(question: str) -> None:
        return None

    body = reserve_body(
        ask, ("hi",), {}, provider="anthropic", model="claude-haiku-4-5", max_output_tokens=50
    )
    assert body == {"provider": "anthropic", "model": "claude-haiku-4-5", "max_output_tokens": 50}
    with pytest.raises(BudgetUnbounded, match="cannot tell which model"):
        reserve_body(ask, ("hi",), {})


def test_objects_the_sdk_cannot_serialize_make_the_input_unbounded_not_small() -> None:
    class Picture:
        pass

    def ask(**kwargs: Any) -> None:
        return None

    messages = [{"role": "user", "content": [{"type": "text", "text": "hi"}, Picture()]}]
    body = sent(ask, model="gpt-4o", messages=messages, max_tokens=5)
    assert body["request"]["messages"][0]["content"][1] == {"inline_data": "Picture"}


def test_bytes_pydantic_schemas_and_non_ascii_text_are_sent_as_the_client_would() -> None:
    import pydantic

    class Answer(pydantic.BaseModel):
        names: list[str]

    def ask(**kwargs: Any) -> None:
        return None

    body = encode(
        describe(
            Target(ask),
            (),
            {
                "model": "gpt-4o",
                "messages": [{"role": "user", "content": "Grüße 猫"}],
                "response_format": Answer,
                "audio": b"\x00\x01",
            },
            None,
            None,
            None,
            None,
            None,
        )
    )
    assert "Grüße 猫".encode() in body  # UTF-8 bytes, the tight bound, not \\u escapes
    request = json.loads(body)["request"]
    assert request["response_format"]["properties"]["names"]["type"] == "array"
    assert request["audio"] == "AAE="


def test_a_request_too_large_for_the_server_falls_back_to_model_and_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_reserve, "MAX_REQUEST_BYTES", 100)

    def ask(**kwargs: Any) -> None:
        return None

    big = [{"role": "user", "content": "x" * 200}]
    assert sent(ask, model="gpt-4o", messages=big, max_tokens=7) == {
        "provider": "openai",
        "model": "gpt-4o",
        "max_output_tokens": 7,
    }


def test_a_request_that_is_not_json_falls_back_to_model_and_limit() -> None:
    def ask(**kwargs: Any) -> None:
        return None

    body = sent(ask, model="gpt-4o", messages=MESSAGES, temperature=float("nan"))
    assert body == {"provider": "openai", "model": "gpt-4o"}


def test_project_and_tags_are_sent_as_labels() -> None:
    def ask(**kwargs: Any) -> None:
        return None

    call = describe(
        Target(ask),
        (),
        {"model": "gpt-4o", "messages": MESSAGES},
        None,
        None,
        None,
        "search",
        {"customer": "acme"},
    )
    body = json.loads(encode(call))
    assert (body["project"], body["tags"]) == ("search", {"customer": "acme"})
