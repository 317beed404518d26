"""Shared pieces of the extractors: the result type and dict-or-object field access."""

from __future__ import annotations

from typing import Any, Optional


def field(obj: Any, name: str) -> Any:
    """``obj[name]`` for a mapping, ``obj.name`` otherwise; ``None`` when absent."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


#: What one response told us: ``(provider, model, usage, service_tier, batch)``.
#:
#: A plain tuple, always of all five, read only by unpacking it into named
#: variables (never by index). ``usage`` stays the provider's own object (or
#: dict) and is turned into JSON by the background worker, so the caller's
#: thread never pays for it. Not a NamedTuple: one is made on every tracked
#: call, and a tuple subclass misses CPython's tuple free-list, so each one
#: counts toward the garbage collector; the overhead benchmark measured the
#: named version 0.1-0.3 us slower per call (BENCHMARKS.md, the SDK).
Found = tuple[str, Optional[str], Any, Optional[str], Optional[bool]]


class CutOff:
    """The usage of a stream that ended before its provider's final event: the
    running usage seen so far, sent with ``partial: true`` so the server prices
    it as a lower bound ("at least $X") instead of as complete."""

    __slots__ = ("reason", "usage")

    def __init__(self, usage: Any, reason: str) -> None:
        self.usage = usage
        self.reason = reason


class WithParts:
    """A raw usage object plus the parts of its response outside ``usage`` that
    carry per-request fees (sent as the event's ``response_parts``).

    Only raw facts are copied (item types and statuses, container ids, search
    queries); the server counts and prices them, exactly as from a whole body.
    """

    __slots__ = ("parts", "usage")

    def __init__(self, usage: Any, parts: dict[str, Any]) -> None:
        self.usage = usage
        self.parts = parts


def as_str(value: Any) -> Optional[str]:
    """A string field, or ``None``; enum-like values contribute their ``value``."""
    if value is None or isinstance(value, str):
        return value
    inner = getattr(value, "value", None)
    if isinstance(inner, str):
        return inner
    return None
