"""The never-raise contract: internal errors are logged, never propagated.

Every SDK entry point that runs on the caller's thread wraps its own work in
``capture_internal_exceptions()`` (or an inline ``try``/``except`` calling
``internal_error`` where a context manager would cost too much on the hot
path). Tests replace ``internal_error_hook`` to turn swallowed errors into
failures, the way sentry-python's test suite does.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Callable, Optional

if TYPE_CHECKING:
    from types import TracebackType

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


def reset_log_once() -> None:
    """Forget which one-time messages were logged (tests and ``configure``)."""
    with _once_lock:
        _logged_once.clear()


class _CaptureInternalExceptions:
    """Reusable, allocation-free context manager that swallows ``Exception``.

    ``BaseException`` subclasses that are not ``Exception`` (KeyboardInterrupt,
    SystemExit, GeneratorExit) pass through: they are the user's, not ours.
    """

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool:
        if exc is not None and isinstance(exc, Exception):
            internal_error(exc)
            return True
        return False


_CAPTURE = _CaptureInternalExceptions()


def capture_internal_exceptions() -> _CaptureInternalExceptions:
    """``with capture_internal_exceptions(): ...`` swallows and logs internal errors."""
    return _CAPTURE
