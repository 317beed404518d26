"""The per-response extractors return a complete ``Found``: a plain tuple of all five fields."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable, Optional

import pytest

from llmlab._extract import anthropic, gemini, openai
from llmlab._extract._common import Found

USAGE = {"prompt_tokens": 3}


class Tier:
    """An enum-like value: ``as_str`` reads its ``value``."""

    value = "flex"


CASES: list[tuple[Callable[[Any], Optional[Found]], Any, Found]] = [
    (
        openai.from_object,
        SimpleNamespace(model="gpt-4o", usage=USAGE, service_tier="default"),
        ("openai", "gpt-4o", USAGE, "default", None),
    ),
    (
        openai.from_object,
        SimpleNamespace(model="gpt-4o", usage=USAGE, service_tier=Tier()),
        ("openai", "gpt-4o", USAGE, "flex", None),
    ),
    (
        openai.from_response,
        {"model": "gpt-4o", "usage": USAGE},
        ("openai", "gpt-4o", USAGE, None, None),
    ),
    (
        openai.from_response,
        {"custom_id": "r1", "response": {"body": {"model": "gpt-4o", "usage": USAGE}}},
        ("openai", "gpt-4o", USAGE, None, True),
    ),
    (
        anthropic.from_message,
        SimpleNamespace(model="claude-haiku-4-5", usage=USAGE),
        ("anthropic", "claude-haiku-4-5", USAGE, None, None),
    ),
    (
        anthropic.from_message,
        {"type": "message", "model": "claude-haiku-4-5", "usage": USAGE},
        ("anthropic", "claude-haiku-4-5", USAGE, None, None),
    ),
    (
        gemini.from_response,
        SimpleNamespace(model_version="gemini-2.5-flash", usage_metadata=USAGE),
        ("google", "gemini-2.5-flash", USAGE, None, None),
    ),
    (
        # The tier that served the call is only in a response header.
        gemini.from_response,
        SimpleNamespace(
            model_version="gemini-2.5-flash",
            usage_metadata=USAGE,
            sdk_http_response=SimpleNamespace(
                headers={"X-Gemini-Service-Tier": "standard", "x-other": "1"}
            ),
        ),
        ("google", "gemini-2.5-flash", USAGE, "standard", None),
    ),
    (
        gemini.from_response,
        {"modelVersion": "gemini-2.5-flash", "usageMetadata": USAGE},
        ("google", "gemini-2.5-flash", USAGE, None, None),
    ),
]


@pytest.mark.parametrize(("extract", "response", "expected"), CASES)
def test_extractors_return_a_complete_found_of_five_fields(
    extract: Callable[[Any], Optional[Found]], response: Any, expected: Found
) -> None:
    got = extract(response)
    assert type(got) is tuple
    assert got == expected
    assert len(got) == 5
    provider, model, usage, _, _ = got
    assert (provider, model, usage) == expected[:3]


@pytest.mark.parametrize(
    "extract", [openai.from_object, openai.from_response, anthropic.from_message]
)
def test_a_response_without_model_or_usage_finds_nothing(
    extract: Callable[[Any], Optional[Found]],
) -> None:
    assert extract(SimpleNamespace(model=None, usage=None)) is None
    assert extract({}) is None


def test_a_gemini_stream_keeps_the_tier_its_first_chunk_reports() -> None:
    state = gemini.StreamState()
    headers = SimpleNamespace(headers={"x-gemini-service-tier": "priority"})
    state.observe(SimpleNamespace(model_version="gemini-2.5-flash", sdk_http_response=headers))
    state.observe(SimpleNamespace(usage_metadata=USAGE, sdk_http_response=None))
    assert state.result() == ("google", "gemini-2.5-flash", USAGE, "priority", None)


def test_a_manual_record_sends_the_requested_tier_and_the_host() -> None:
    from llmlab._event import build_event

    opts = SimpleNamespace(provider="openai", model="gpt-5.4", project=None, tags=None)
    extra = {
        "buckets": {"input_tokens": 1},
        "requested_service_tier": "priority",
        "upstream_host": "eu.api.openai.com",
    }
    event = build_event((0.0, None, "ok", opts, None, extra), offset=0.0)
    assert event is not None
    assert (event["requested_service_tier"], event["upstream_host"]) == (
        "priority",
        "eu.api.openai.com",
    )
