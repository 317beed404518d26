"""OpenAI: Chat Completions, Responses, Embeddings, Batch output lines, and their streams.

Duck-typed over the ``openai`` package's models and over plain dicts; the
package itself is never imported.
"""

from __future__ import annotations

from typing import Any, Optional

from ._common import Found, as_str, field, found

PROVIDER = "openai"

#: Terminal Responses-API stream events; each embeds the final ``response``.
TERMINAL_RESPONSE_EVENTS = frozenset(
    {"response.completed", "response.incomplete", "response.failed"}
)


def from_response(obj: Any) -> Optional[Found]:
    """A ChatCompletion, Response, CreateEmbeddingResponse or their dict forms."""
    if isinstance(obj, dict):
        response = obj.get("response")
        if "custom_id" in obj and isinstance(response, dict):
            # One line of a Batch API output file: the body is an ordinary response.
            inner = from_response(response.get("body") or {})
            if inner is not None:
                inner = (*inner[:4], True)
            return inner
        model = obj.get("model")
        usage = obj.get("usage")
        tier = obj.get("service_tier")
    else:
        model = getattr(obj, "model", None)
        usage = getattr(obj, "usage", None)
        tier = getattr(obj, "service_tier", None)
    if model is None and usage is None:
        return None
    return (PROVIDER, model if type(model) is str else as_str(model), usage, as_str(tier), None)


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
                    self.model = got[1] or self.model
                    if got[2] is not None:
                        self.usage = got[2]
                    self.service_tier = got[3] or self.service_tier
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
        return found(PROVIDER, self.model, self.usage, self.service_tier)
