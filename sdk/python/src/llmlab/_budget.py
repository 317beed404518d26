"""Budget alerts: a ``BudgetWarning`` and an optional callback, once per threshold per period."""

from __future__ import annotations

import threading
import warnings
from typing import Any, Callable, Optional

from ._internal import logger

ALERT_STATES = ("warning", "exceeded")


class BudgetWarning(UserWarning):
    """Spending reached 80% (``warning``) or 100% (``exceeded``) of the account's budget."""


class BudgetAlerts:
    """Remembers which (state, period) pairs were already announced in this process."""

    def __init__(self) -> None:
        self.callback: Optional[Callable[[dict[str, Any]], None]] = None
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def handle(self, budget: Any) -> None:
        """Look at a ``budget`` object from a track/batch response."""
        if not isinstance(budget, dict):
            return
        state = budget.get("state")
        if state not in ALERT_STATES:
            return
        key = (str(state), str(budget.get("period_start")))
        with self._lock:
            if key in self._seen:
                return
            self._seen.add(key)
        warnings.warn(_message(state, budget), BudgetWarning, stacklevel=2)
        callback = self.callback
        if callback is not None:
            try:
                callback(dict(budget))
            except Exception as exc:  # noqa: BLE001 - the user's callback must not kill the worker
                # The user's error, not the SDK's: logged, not reported as internal.
                logger.warning("llmlab: the on_budget_alert callback raised %r", exc)


def _message(state: str, budget: dict[str, Any]) -> str:
    spent = budget.get("spent_usd")
    amount = budget.get("amount_usd")
    percent = budget.get("percent_used")
    period = budget.get("period") or "period"
    share = f" ({percent:.0f}%)" if isinstance(percent, (int, float)) else ""
    head = "LLMLab budget exceeded" if state == "exceeded" else "LLMLab budget warning"
    start = budget.get("period_start")
    since = f" (since {start})" if start else ""
    return f"{head}: ${spent} of ${amount}{share} spent this {period}{since}"
