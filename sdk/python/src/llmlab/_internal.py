"""The never-raise contract: internal errors are logged, never propagated.

There is one guard, written the same way everywhere the SDK runs on the
caller's thread, on the worker, at fork and at exit::

    try:
        ...
    except Exception as exc:  # noqa: BLE001
        internal_error(exc)

``internal_error`` logs to the ``llmlab`` logger at DEBUG and never raises.
Not a context manager: on CPython 3.11+ a ``try`` that does not raise costs
nothing, while ``with`` calls ``__enter__``/``__exit__`` every time; around
the decorated call's enqueue that measured +220 ns a call (+25%) on our CI
machine. ``BaseException``s that are not ``Exception`` (KeyboardInterrupt,
SystemExit, GeneratorExit) pass through: they are the user's, not ours.
Tests replace ``internal_error_hook`` to turn swallowed errors into
failures, the way sentry-python's test suite does.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Optional

logger = logging.getLogger("llmlab")

#: Called with every swallowed internal exception; tests install a collector here.
internal_error_hook: Optional[Callable[[BaseException], None]] = None

_logged_once: set[str] = set()
_once_lock = threading.Lock()


def internal_error(exc: BaseException) -> None:
    """Record an exception raised inside the SDK, without raising."""
    try:
        hook = internal_error_hook
        if hook is not None:
            hook(exc)
        logger.debug("llmlab internal error", exc_info=exc)
    except Exception:  # noqa: BLE001, S110 - the hook itself must not break the host either
        pass


def log_once(key: str, level: int, msg: str, *args: object) -> None:
    """Log ``msg`` the first time ``key`` is seen in this process."""
    with _once_lock:
        if key in _logged_once:
            return
        _logged_once.add(key)
    logger.log(level, msg, *args)


def forget_once(key: str) -> None:
    """Let ``key``'s message be logged again (for warnings once per outage, not per process)."""
    with _once_lock:
        _logged_once.discard(key)


def reset_log_once() -> None:
    """Forget which one-time messages were logged (tests and ``configure``)."""
    with _once_lock:
        _logged_once.clear()
