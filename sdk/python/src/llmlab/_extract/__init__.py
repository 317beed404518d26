"""Find the model and the raw usage on provider responses and stream items.

One module per provider, all duck-typed: no provider SDK is ever imported.
The SDK sends the usage object exactly as the provider returned it; the
server normalizes it (the Rust core is the one place that knows billing rules).
Fees billed per request that a response shows outside its usage (OpenAI
Responses hosted-tool items, Gemini search grounding) travel beside it as
``response_parts``: the raw items, copied, never counted or priced here.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Union

from . import anthropic, gemini, openai
from ._common import Found, WithParts, as_str, field

__all__ = ["Found", "StreamAccumulator", "WithParts", "extract", "extractor_for", "to_jsonable"]


Extractor = Callable[[Any], Optional[Found]]

_BY_CLASS: dict[type, Extractor] = {}


def extract(obj: Any) -> Optional[Found]:
    """The provider, model and usage of one complete response, or ``None``."""
    fn = _BY_CLASS.get(type(obj))
    if fn is None:
        fn = extractor_for(type(obj))
    return fn(obj)


def extractor_for(cls: type) -> Extractor:
    """The extractor for instances of ``cls``, chosen once per class (the hot path's cache)."""
    fn = _BY_CLASS.get(cls)
    if fn is not None:
        return fn
    module = getattr(cls, "__module__", "") or ""
    if issubclass(cls, dict):
        fn = _extract_dict
    elif module.startswith("openai"):
        fn = openai.from_object
    elif module.startswith("anthropic"):
        fn = anthropic.from_message
    elif module.startswith("google"):
        fn = gemini.from_response
    elif cls is type(None) or issubclass(cls, (str, bytes, int, float, list, tuple, set)):
        fn = _nothing
    else:
        fn = _extract_shape
    _BY_CLASS[cls] = fn
    return fn


def _nothing(obj: Any) -> None:
    return None


def _extract_dict(obj: dict[str, Any]) -> Optional[Found]:
    if "usageMetadata" in obj or "usage_metadata" in obj or "modelVersion" in obj:
        return gemini.from_response(obj)
    if obj.get("type") == "message":
        return anthropic.from_message(obj)
    if "usage" in obj or "custom_id" in obj or ("model" in obj and "object" in obj):
        return openai.from_response(obj)
    return None


def _extract_shape(obj: Any) -> Optional[Found]:
    """An object from an unknown module (a wrapper, a test double): judge by its fields."""
    if getattr(obj, "usage_metadata", None) is not None:
        return gemini.from_response(obj)
    if getattr(obj, "type", None) == "message":
        return anthropic.from_message(obj)
    if getattr(obj, "usage", None) is not None and getattr(obj, "model", None) is not None:
        return openai.from_response(obj)
    return None


_AnyState = Union[openai.StreamState, anthropic.StreamState, gemini.StreamState]


class StreamAccumulator:
    """Watches the items of a stream and yields one ``Found`` at its end.

    The provider is decided by the first item that says which it is, and the
    matching per-provider state follows the rest.
    """

    __slots__ = ("_state",)

    def __init__(self) -> None:
        self._state: Optional[_AnyState] = None

    def observe(self, item: Any) -> None:
        kind = as_str(field(item, "type"))
        state = self._state
        if state is None:
            state = self._state = _state_for(item, kind)
            if state is None:
                return
        if isinstance(state, openai.StreamState):
            state.observe(item, kind)
        elif isinstance(state, anthropic.StreamState):
            if kind is not None:
                state.observe(item, kind)
        else:
            state.observe(item)

    def result(self) -> Optional[Found]:
        return None if self._state is None else self._state.result()


def _state_for(item: Any, kind: Optional[str]) -> Optional[_AnyState]:
    if kind is not None:
        if kind.startswith(("message", "content_block")):
            return anthropic.StreamState()
        if kind.startswith("response."):
            return openai.StreamState()
        return None
    if gemini.usage_of(item) is not None or gemini.model_of(item) is not None:
        return gemini.StreamState()
    module = type(item).__module__
    if module.startswith("google"):
        return gemini.StreamState()
    if field(item, "object") == "chat.completion.chunk" or module.startswith("openai"):
        return openai.StreamState()
    return None


def to_jsonable(value: Any) -> Any:
    """Turn a provider usage object into plain JSON data (runs on the worker thread)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    to_json = getattr(value, "to_json", None)
    if isinstance(value, anthropic.MergedStreamUsage) and to_json is not None:
        return to_json(to_jsonable)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            # pydantic v2 (all three SDKs): already plain JSON data, nulls left out.
            return dump(mode="json", by_alias=True, exclude_none=True)
        except TypeError:
            return to_jsonable(dump())
    inner = getattr(value, "value", None)
    if isinstance(inner, (str, int)):
        return inner  # an enum
    attrs = getattr(value, "__dict__", None)
    if isinstance(attrs, dict):
        return {
            k: to_jsonable(v) for k, v in attrs.items() if not k.startswith("_") and v is not None
        }
    return None
