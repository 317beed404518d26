"""LLMLab: know what your LLM calls cost.

    from llmlab import track_cost

    @track_cost(provider="openai")
    def ask(q): return client.chat.completions.create(model="gpt-4o-mini", messages=[...])

Events go to the LLMLab server in the background; nothing here ever raises
into, blocks, or slows down the program beyond a few microseconds per call.
The one opt-in exception is the hard mode (``enforce_budget=True``): one
round trip to the server before each call, and ``BudgetExceeded`` instead
of the call when a hard budget cannot cover it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

from ._budget import BudgetCheckFailed, BudgetExceeded, BudgetUnbounded, BudgetWarning
from ._internal import internal_error
from ._runtime import RUNTIME
from ._track import track, track_cost

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "BudgetCheckFailed",
    "BudgetExceeded",
    "BudgetUnbounded",
    "BudgetWarning",
    "configure",
    "flush",
    "shutdown",
    "track",
    "track_cost",
]
__version__ = "0.1.0"


def configure(
    *,
    api_key: Optional[str] = None,
    base_url: Optional[str] = None,
    project: Optional[str] = None,
    tags: Optional[Mapping[str, Any]] = None,
    on_budget_alert: Optional[Callable[[dict[str, Any]], None]] = None,
    enabled: Optional[bool] = None,
    spool_dir: Optional[str] = None,
    transport: Optional[Mapping[str, Any]] = None,
    enforce_budget: Optional[bool] = None,
    budget_failure: Optional[str] = None,
) -> None:
    """Override the config file and the environment.

    ``api_key`` and ``base_url`` win over ``LLMLAB_API_KEY``/``LLMLAB_BASE_URL``
    and ``~/.config/llmlab/config.toml``. ``project`` and ``tags`` are defaults
    for every event. ``on_budget_alert(budget)`` is called (on the background
    thread) when the server reports the budget at ``warning`` or ``exceeded``.
    ``enabled=False`` turns tracking off. ``transport`` tunes the sender (see
    ``llmlab._config.TransportOptions``). Arguments left ``None`` keep their
    earlier value.

    ``enforce_budget=True`` turns the hard mode on for every ``track_cost``
    and ``track`` that does not say otherwise: each call reserves its
    worst-case cost first and raises ``llmlab.BudgetExceeded`` instead of
    calling the provider when a hard budget cannot cover it.
    ``budget_failure`` says what a hard call does when the server cannot be
    asked: ``"open"`` (the default; ``LLMLAB_BUDGET_FAILURE``) sends it
    unheld and logs a warning once per outage, ``"closed"`` raises
    ``llmlab.BudgetCheckFailed`` (a ``BudgetExceeded``) instead.
    """
    try:
        RUNTIME.reconfigure(
            api_key=api_key,
            base_url=base_url,
            project=project,
            tags={str(k): str(v) for k, v in tags.items()} if tags is not None else None,
            on_budget_alert=on_budget_alert,
            enabled=enabled,
            spool_dir=spool_dir,
            transport=dict(transport) if transport is not None else None,
            enforce_budget=enforce_budget,
            budget_failure=budget_failure,
        )
    except Exception as exc:  # noqa: BLE001
        internal_error(exc)


def flush(timeout: float = 5.0) -> int:
    """Block until queued events are delivered or spooled; return how many are still pending."""
    try:
        # Resolving here lets a fresh process hand over a spool left by an earlier run.
        transport = RUNTIME.get_transport()
        if transport is None:
            return 0
        return transport.flush(timeout)
    except Exception as exc:  # noqa: BLE001
        internal_error(exc)
        return 0


def shutdown(timeout: float = 2.0) -> int:
    """Flush (capped at ``timeout``), stop the sender and spool what is left; return that count.

    Tracking resumes, with a new sender, on the next tracked call.
    """
    try:
        transport = RUNTIME.transport
        if transport is None:
            return 0
        left = transport.close(timeout)
        RUNTIME.reconfigure()
        return left
    except Exception as exc:  # noqa: BLE001
        internal_error(exc)
        return 0
