"""Shared pieces of the extractors: the result type and dict-or-object field access."""

from __future__ import annotations

from typing import Any, Optional


def field(obj: Any, name: str) -> Any:
    """``obj[name]`` for a mapping, ``obj.name`` otherwise; ``None`` when absent."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


class Found:
    """What one response told us: who served it, which model, and its raw usage.

    ``usage`` is kept as the provider's own object (or dict) and turned into
    JSON by the background worker, so the caller's thread never pays for it.
    """

    __slots__ = ("batch", "model", "provider", "service_tier", "usage")

    def __init__(
        self,
        provider: str,
        model: Optional[str],
        usage: Any,
        service_tier: Optional[str] = None,
        batch: Optional[bool] = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self.usage = usage
        self.service_tier = service_tier
        self.batch = batch

    def __repr__(self) -> str:
        return (
            f"Found(provider={self.provider!r}, model={self.model!r}, usage={self.usage!r}, "
            f"service_tier={self.service_tier!r}, batch={self.batch!r})"
        )


def as_str(value: Any) -> Optional[str]:
    """A string field, or ``None``; enum-like values contribute their ``value``."""
    if value is None or isinstance(value, str):
        return value
    inner = getattr(value, "value", None)
    if isinstance(inner, str):
        return inner
    return None
