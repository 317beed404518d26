"""Helpers for the dashboard tests (a module of its own: test files cannot import a conftest)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

HOSTILE = "<img src=x onerror=alert(1)>"


def usd(amount: Decimal | str) -> str:
    """The dashboard's money format for amounts of a cent or more: `$1,234.57`."""
    value = Decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"${value:,}"


def track(server: Any, key: str, events: list[dict[str, Any]]) -> Decimal:
    """Posts events through the batch API; returns their total priced cost."""
    status, body = server.request("POST", "/api/events/batch", {"events": events}, key=key)
    assert status == 201, body
    return sum((Decimal(r["cost_usd"]) for r in body["results"] if r["cost_usd"] is not None), Decimal(0))
