"""OpenAI: Chat Completions, Responses, Embeddings, Batch output lines, and their streams.

Duck-typed over the ``openai`` package's models and over plain dicts; the
package itself is never imported.
"""

from __future__ import annotations

from typing import Any, Optional

from ._common import Found, as_str, field

PROVIDER = "openai"

#: Terminal Responses-API stream events; each embeds the final ``response``.
TERMINAL_RESPONSE_EVENTS = frozenset(
    {"response.completed", "response.incomplete", "response.failed"}
)


def from_response(obj: Any) -> Optional[Found]:
    """A ChatCompletion, Response, CreateEmbeddingResponse or their dict forms."""
    if not isinstance(obj, dict):
        return from_object(obj)
    response = obj.get("response")
    if "custom_id" in obj and isinstance(response, dict):
        # One line of a Batch API output file: the body is an ordinary response.
        inner = from_response(response.get("body") or {})
        if inner is None:
            return None
        provider, model, usage, tier, _ = inner
        return (provider, model, usage, tier, True)
    model = obj.get("model")
    usage = obj.get("usage")
    tier = obj.get("service_tier")
    if model is None and usage is None:
        return None
    model = model if type(model) is str else as_str(model)
    tier = tier if type(tier) is str else as_str(tier)
    return (PROVIDER, model, usage, tier, None)


def from_object(obj: Any) -> Optional[Found]:
    """``from_response`` for an SDK object (never a dict): the decorator's extractor for them."""
    model = getattr(obj, "model", None)
    usage = getattr(obj, "usage", None)
    tier = getattr(obj, "service_tier", None)
    if model is None and usage is None:
        return None
    model = model if type(model) is str else as_str(model)
    tier = tier if type(tier) is str else as_str(tier)
    return (PROVIDER, model, usage, tier, None)


class StreamState:
    """Follows a chat-completion chunk stream or a Responses event stream."""

    __slots__ = ("model", "saw", "service_tier", "usage")

    def __init__(self) -> None:
        self.model: Optional[str] = None
        self.usage: Any = None
        self.service_tier: Optional[str] = None
        self.saw = False

    def observe(self, item: Any, kind: Optional[str]) -> None:
        if kind is not None:
            # Responses API event.
            if kind in TERMINAL_RESPONSE_EVENTS or kind == "response.created":
                got = from_response(field(item, "response"))
                if got is not None:
                    self.saw = True
                    _, model, usage, tier, _ = got
                    self.model = model or self.model
                    if usage is not None:
                        self.usage = usage
                    self.service_tier = tier or self.service_tier
            return
        # Chat completion chunk: only the final one (choices == []) has usage.
        self.saw = True
        model = field(item, "model")
        if model is not None:
            self.model = as_str(model)
        usage = field(item, "usage")
        if usage is not None:
            self.usage = usage
        tier = field(item, "service_tier")
        if tier is not None:
            self.service_tier = as_str(tier)

    def result(self) -> Optional[Found]:
        if not self.saw:
            return None
        return (PROVIDER, self.model, self.usage, self.service_tier, None)
