"""Budget alerts (a ``BudgetWarning`` and an optional callback, once per threshold per
period) and the errors of the hard mode, raised instead of calling the provider."""

from __future__ import annotations

import threading
import warnings
from typing import Any, Callable, Optional

from ._internal import logger

ALERT_STATES = ("warning", "exceeded")


class BudgetWarning(UserWarning):
    """Spending reached 80% (``warning``) or 100% (``exceeded``) of the account's budget."""


class BudgetExceeded(Exception):
    """Hard mode: the call was NOT made, because a hard budget cannot cover it.

    ``str(error)`` and ``message`` are the server's sentence: which budget,
    its period, what is spent and held, what this call may cost, what to do.
    ``status`` is LLMLab's HTTP status (429 here) and ``code`` its error code
    (``budget_exceeded``); ``provider``, ``model`` and ``project`` describe the
    call that was refused (``None`` where unknown). The subclasses
    ``BudgetUnbounded`` and ``BudgetCheckFailed`` are the other reasons a hard
    call is not made, so ``except llmlab.BudgetExceeded`` catches every one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        code: Optional[str] = None,
        provider: Optional[str] = None,
        model: Optional[str] = None,
        project: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.provider = provider
        self.model = model
        self.project = project

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields survive pickling (multiprocessing hands errors across processes).
        return (type(self), (self.message,), dict(self.__dict__))


class BudgetUnbounded(BudgetExceeded):
    """Hard mode: the call was NOT made, because its cost has no bound a budget can hold.

    The server answered 422: typically no output limit anywhere (set
    ``max_tokens``/``max_output_tokens``), an API it cannot price ahead, or a
    call whose model the SDK could not tell (``status`` is then ``None``).
    """


class BudgetCheckFailed(BudgetExceeded):
    """Hard mode with ``budget_failure="closed"``: the call was NOT made, because the
    LLMLab server could not be asked (unreachable, timed out, 5xx, rejected the API key).

    ``status`` is the HTTP status when there was one, else ``None``.
    """


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
