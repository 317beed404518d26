"""OpenAI: Chat Completions, Responses, Embeddings, Batch output lines, and their streams.

Duck-typed over the ``openai`` package's models and over plain dicts; the
package itself is never imported.
"""

from __future__ import annotations

from typing import Any, Optional

from ._common import Found, WithParts, as_str, field

PROVIDER = "openai"

#: Responses ``output`` items billed per call (the server decides how).
FEE_ITEMS = frozenset({"web_search_call", "file_search_call", "code_interpreter_call"})


def _with_tool_parts(obj: Any, usage: Any) -> Any:
    """``usage``, wrapped with the hosted-tool items of a Responses ``output`` when it has any."""
    output = field(obj, "output")
    if usage is None or not output or not isinstance(output, (list, tuple)):
        return usage
    items = []
    for item in output:
        kind = as_str(field(item, "type"))
        if kind in FEE_ITEMS:
            part: dict[str, Any] = {"type": kind, "status": as_str(field(item, "status"))}
            container = field(item, "container_id")
            if container is not None:
                part["container_id"] = container
            items.append(part)
    tool_usage = field(obj, "tool_usage")
    if not items and tool_usage is None:
        return usage
    parts: dict[str, Any] = {"output": items}
    if tool_usage is not None:
        parts["tool_usage"] = tool_usage
    return WithParts(usage, parts)


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
    if "output" in obj:
        usage = _with_tool_parts(obj, usage)
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
    if getattr(obj, "output", None) is not None:
        usage = _with_tool_parts(obj, usage)
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
