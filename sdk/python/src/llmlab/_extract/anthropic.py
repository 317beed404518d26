"""Anthropic: Messages (and beta messages), raw event streams, and MessageStream helpers."""

from __future__ import annotations

from typing import Any, Optional

from ._common import CutOff, Found, as_str, field

PROVIDER = "anthropic"


def from_message(obj: Any) -> Optional[Found]:
    """A ``Message``/``BetaMessage`` or its dict form."""
    if isinstance(obj, dict):
        model = obj.get("model")
        usage = obj.get("usage")
    else:
        model = getattr(obj, "model", None)
        usage = getattr(obj, "usage", None)
    if model is None and usage is None:
        return None
    model = model if type(model) is str else as_str(model)
    return (PROVIDER, model, usage, None, None)


class MergedStreamUsage:
    """The usage of a stream: ``message_start``'s, overwritten by each ``message_delta``.

    Deltas carry cumulative counts, so they overwrite and are never summed; a
    field a delta omits keeps its earlier value, and nested objects are
    replaced whole. The parts stay as the SDK's objects until the background
    worker calls ``to_json`` (``to_jsonable`` is passed in to avoid a cycle).
    """

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[Any] = []

    def to_json(self, to_jsonable: Any) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for part in self.parts:
            data = to_jsonable(part)
            if isinstance(data, dict):
                for key, value in data.items():
                    if value is not None:
                        merged[key] = value
        return merged

    def __repr__(self) -> str:
        return f"MergedStreamUsage({self.parts!r})"


#: Why a stream without ``message_stop`` is sent as a lower bound.
_CUT_OFF = "the stream ended before message_stop; usage counted up to the last event"


class StreamState:
    """Follows ``message_start`` / ``message_delta`` / ``message_stop`` events."""

    __slots__ = ("final_usage", "model", "saw", "stopped", "usage")

    def __init__(self) -> None:
        self.model: Optional[str] = None
        self.usage = MergedStreamUsage()
        self.final_usage: Any = None
        self.saw = False
        # ``message_stop``, or the ``message_delta`` with the stop reason: the usage is final.
        self.stopped = False

    def observe(self, item: Any, kind: str) -> None:
        if kind == "message_start":
            message = field(item, "message")
            self.saw = True
            self.model = as_str(field(message, "model")) or self.model
            usage = field(message, "usage")
            if usage is not None:
                self.usage.parts = [usage]
        elif kind == "message_delta":
            usage = field(item, "usage")
            if usage is not None:
                self.saw = True
                self.usage.parts.append(usage)
            if field(field(item, "delta"), "stop_reason") is not None:
                self.stopped = True
        elif kind == "message_stop":
            self.stopped = True
            # The SDK's MessageStream attaches its own merged snapshot here.
            message = field(item, "message")
            if message is not None:
                usage = field(message, "usage")
                if usage is not None:
                    self.final_usage = usage
                self.model = as_str(field(message, "model")) or self.model
        elif kind == "message":
            got = from_message(item)
            if got is not None:
                self.saw = True
                _, model, usage, _, _ = got
                self.model = model or self.model
                self.final_usage = usage
                self.stopped = True

    def result(self) -> Optional[Found]:
        if not self.saw:
            return None
        usage: Any = self.final_usage
        if usage is None and self.usage.parts:
            usage = self.usage
            if not self.stopped:
                usage = CutOff(usage, _CUT_OFF)
        return (PROVIDER, self.model, usage, None, None)
