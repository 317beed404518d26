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
