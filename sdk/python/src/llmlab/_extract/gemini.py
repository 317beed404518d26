"""Google Gemini (google-genai): GenerateContentResponse and its streaming chunks.

``usage_metadata`` (SDK objects) or ``usageMetadata`` (REST JSON) is sent as
is; the server accepts both spellings. In a stream each chunk carries running
totals, so the last one wins and nothing is summed. The tier that served the
call is only in a response header (``x-gemini-service-tier``: a priority
request over its limit is served, and billed, at standard), which google-genai
keeps in ``sdk_http_response.headers``; it is sent as the event's tier.
"""

from __future__ import annotations

from typing import Any, Optional

from ._common import CutOff, Found, WithParts, as_str, field

PROVIDER = "google"
TIER_HEADER = "x-gemini-service-tier"


def served_tier(obj: Any) -> Optional[str]:
    """The ``x-gemini-service-tier`` header google-genai kept on the response, if any."""
    headers = getattr(getattr(obj, "sdk_http_response", None), "headers", None)
    if not headers:
        return None
    try:
        for name, value in headers.items():
            if isinstance(name, str) and name.lower() == TIER_HEADER:
                return as_str(value)
    except (AttributeError, TypeError):
        return None
    return None


def grounding_of(obj: Any) -> Optional[dict[str, Any]]:
    """The Google Search grounding of a response's candidates, as ``response_parts``, or ``None``.

    Only the raw queries (and whether a search entry point was shown) are copied;
    the server counts and prices them.
    """
    candidates = field(obj, "candidates")
    if not candidates or not isinstance(candidates, (list, tuple)):
        return None
    grounded = []
    for candidate in candidates:
        metadata = field(candidate, "grounding_metadata")
        if metadata is None and isinstance(candidate, dict):
            metadata = candidate.get("groundingMetadata")
        if metadata is None:
            continue
        queries = field(metadata, "web_search_queries")
        if queries is None and isinstance(metadata, dict):
            queries = metadata.get("webSearchQueries")
        entry = field(metadata, "search_entry_point")
        if entry is None and isinstance(metadata, dict):
            entry = metadata.get("searchEntryPoint")
        part: dict[str, Any] = {"webSearchQueries": [str(q) for q in queries or ()]}
        if entry is not None:
            part["searchEntryPoint"] = {}
        grounded.append({"groundingMetadata": part})
    return {"candidates": grounded} if grounded else None


def usage_of(obj: Any) -> Any:
    usage = field(obj, "usage_metadata")
    if usage is None and isinstance(obj, dict):
        usage = obj.get("usageMetadata")
    return usage


def model_of(obj: Any) -> Optional[str]:
    model = field(obj, "model_version")
    if model is None and isinstance(obj, dict):
        model = obj.get("modelVersion")
    return as_str(model)


def from_response(obj: Any) -> Optional[Found]:
    """A ``GenerateContentResponse`` or its REST JSON (``usage_of`` and ``model_of``, inlined)."""
    if isinstance(obj, dict):
        usage = obj.get("usage_metadata")
        if usage is None:
            usage = obj.get("usageMetadata")
        model = obj.get("model_version")
        if model is None:
            model = obj.get("modelVersion")
    else:
        usage = getattr(obj, "usage_metadata", None)
        model = getattr(obj, "model_version", None)
    model = model if type(model) is str else as_str(model)
    if usage is None and model is None:
        return None
    if usage is not None:
        parts = grounding_of(obj)
        if parts is not None:
            usage = WithParts(usage, parts)
    return (PROVIDER, model, usage, None if isinstance(obj, dict) else served_tier(obj), None)


#: Why a stream without a finish reason is sent as a lower bound.
_CUT_OFF = (
    "the stream ended before a chunk with a finish_reason; usage counted up to the last chunk"
)


def _finish_reason(candidate: Any) -> Any:
    return field(candidate, "finish_reason") or field(candidate, "finishReason")


class StreamState:
    """Keeps the last ``usage_metadata``, ``model_version`` and search grounding seen."""

    __slots__ = ("finished", "grounding", "model", "saw", "tier", "usage")

    def __init__(self) -> None:
        self.model: Optional[str] = None
        self.usage: Any = None
        self.grounding: Optional[dict[str, Any]] = None
        self.tier: Optional[str] = None
        self.saw = False
        # A chunk with a ``finish_reason``: the usage is final.
        self.finished = False

    def observe(self, item: Any) -> None:
        self.saw = True
        if not self.finished:
            candidates = field(item, "candidates")
            if isinstance(candidates, (list, tuple)):
                self.finished = any(_finish_reason(c) for c in candidates)
        usage = usage_of(item)
        if usage is not None:
            self.usage = usage
        model = model_of(item)
        if model is not None:
            self.model = model
        grounding = grounding_of(item)
        if grounding is not None:
            self.grounding = grounding
        if self.tier is None:
            self.tier = served_tier(item)

    def result(self) -> Optional[Found]:
        if not self.saw:
            return None
        usage: Any = self.usage
        if usage is not None and self.grounding is not None:
            usage = WithParts(usage, self.grounding)
        if usage is not None and not self.finished:
            usage = CutOff(usage, _CUT_OFF)
        return (PROVIDER, self.model, usage, self.tier, None)
