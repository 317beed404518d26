"""Process-wide state: the resolved settings and the one ``Worker`` (transport), made lazily."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, Optional

from ._budget import BudgetAlerts
from ._config import Overrides, Settings, TransportOptions, resolve
from ._internal import internal_error, log_once
from ._worker import Worker


class Runtime:
    """Holds the transport; ``transport`` stays ``None`` while disabled or unconfigured."""

    def __init__(self) -> None:
        self.overrides = Overrides()
        #: ``configure(enforce_budget=...)``, read on every decorated call (one attribute).
        self.enforce_budget = False
        self.alerts = BudgetAlerts()
        self.settings: Optional[Settings] = None
        self.transport: Optional[Worker] = None
        self.resolved = False
        self._lock = threading.Lock()

    def get_transport(self) -> Optional[Worker]:
        """The transport, resolving the configuration on first use (never raises)."""
        if self.resolved:
            return self.transport
        with self._lock:
            if not self.resolved:
                try:
                    self._resolve()
                except Exception as exc:  # noqa: BLE001
                    internal_error(exc)
                self.resolved = True
        return self.transport

    def _resolve(self) -> None:
        settings = resolve(self.overrides)
        self.settings = settings
        self.alerts.callback = settings.on_budget_alert
        if not settings.enabled:
            log_once(
                "disabled",
                logging.WARNING
                if "no API key" in (settings.disabled_reason or "")
                else logging.INFO,
                "llmlab: tracking is off: %s",
                settings.disabled_reason,
            )
            self.transport = None
            return
        options = TransportOptions(**self.overrides.transport)
        self.transport = Worker(settings, options, self.alerts)

    def reconfigure(self, **changes: Any) -> None:
        """Apply ``configure()`` values; the next tracked call picks them up."""
        with self._lock:
            old = self.transport
            transport_opts: Optional[dict[str, Any]] = changes.pop("transport", None)
            for key, value in changes.items():
                if value is not None:
                    setattr(self.overrides, key, value)
            if transport_opts is not None:
                self.overrides.transport = dict(transport_opts)
            self.enforce_budget = bool(self.overrides.enforce_budget)
            self.transport = None
            self.resolved = False
        if old is not None:
            # The old sender hands over whatever it still holds before it goes.
            old.close(timeout=old.options.exit_timeout)

    def after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        transport = self.transport
        if transport is not None:
            transport.after_fork_in_child()


RUNTIME = Runtime()


def _after_fork_in_child() -> None:
    try:
        RUNTIME.after_fork_in_child()
    except Exception as exc:  # noqa: BLE001
        internal_error(exc)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
