"""A small bounded on-disk spool for events the server did not accept (yet).

One file per batch, ``<ns>-<pid>-<rand>-<count>.json`` holding the request
body (``{"events": [...]}``) with the events' ids already assigned, so a
resend is idempotent. Files are written atomically (temp file + rename) and
claimed by renaming them to ``….claim-<pid>``, so several processes sharing
the directory never send the same file at once; claims left by a dead
process are taken back. Over the size or file-count bound the oldest files
go first. Every method swallows its errors: the spool is best effort and
must never raise into the caller.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any, Optional

from ._internal import internal_error, log_once

if TYPE_CHECKING:
    from pathlib import Path

_SUFFIX = ".json"
_CLAIM = ".claim-"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _count_of(name: str) -> int:
    stem = name.split(_SUFFIX, 1)[0]
    try:
        return int(stem.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return 0


class Spool:
    """Bounded directory of pending batches."""

    def __init__(self, directory: Path, max_bytes: int = 16 << 20, max_files: int = 2000) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.dropped_events = 0
        self._lock = threading.Lock()

    # -- writing -----------------------------------------------------------------------

    def write(self, events: list[dict[str, Any]]) -> bool:
        """Store one batch; ``False`` (and a one-time log line) when the disk refuses."""
        if not events:
            return True
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            name = f"{time.time_ns():020d}-{os.getpid()}-{os.urandom(4).hex()}-{len(events)}"
            final = self.directory / (name + _SUFFIX)
            tmp = self.directory / (name + ".tmp")
            body = json.dumps({"events": events}, separators=(",", ":")).encode("utf-8")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, body)
            finally:
                os.close(fd)
            os.replace(tmp, final)
        except OSError as exc:
            log_once(
                "spool-write",
                logging.WARNING,
                "llmlab: cannot write the event spool in %s (%s); undelivered events are dropped",
                self.directory,
                exc,
            )
            self.dropped_events += len(events)
            return False
        self._enforce_bounds()
        return True

    def _enforce_bounds(self) -> None:
        with self._lock:
            try:
                files = self._ready_files()
                sizes = []
                for path in files:
                    try:
                        sizes.append(path.stat().st_size)
                    except OSError:
                        sizes.append(0)
                total = sum(sizes)
                dropped = 0
                i = 0
                while i < len(files) and (
                    total > self.max_bytes or len(files) - i > self.max_files
                ):
                    try:
                        files[i].unlink()
                        dropped += _count_of(files[i].name)
                    except OSError:
                        pass
                    total -= sizes[i]
                    i += 1
                if dropped:
                    self.dropped_events += dropped
                    log_once(
                        "spool-full",
                        logging.WARNING,
                        "llmlab: the event spool in %s is full; dropped the oldest %d events",
                        self.directory,
                        dropped,
                    )
            except Exception as exc:  # noqa: BLE001 - never raise from the spool
                internal_error(exc)

    # -- reading -----------------------------------------------------------------------

    def _ready_files(self) -> list[Path]:
        try:
            names = os.listdir(self.directory)
        except OSError:
            return []
        return sorted(self.directory / n for n in names if n.endswith(_SUFFIX))

    def pending_events(self) -> int:
        """How many events wait in the spool (claimed files included)."""
        try:
            names = os.listdir(self.directory)
        except OSError:
            return 0
        return sum(_count_of(n) for n in names if n.endswith(_SUFFIX) or _CLAIM in n)

    def reclaim_stale(self) -> None:
        """Put back files claimed by processes that no longer exist."""
        try:
            names = os.listdir(self.directory)
        except OSError:
            return
        for name in names:
            base, sep, pid = name.partition(_CLAIM)
            if not sep:
                continue
            try:
                alive = _pid_alive(int(pid))
            except ValueError:
                alive = False
            if not alive:
                with contextlib.suppress(OSError):
                    os.replace(self.directory / name, self.directory / base)

    def claim_next(self) -> Optional[tuple[Path, list[dict[str, Any]]]]:
        """Take the oldest batch for sending; ``None`` when the spool is empty."""
        for path in self._ready_files():
            claimed = path.with_name(path.name + _CLAIM + str(os.getpid()))
            try:
                os.replace(path, claimed)
            except OSError:
                continue  # another process took it
            try:
                data = json.loads(claimed.read_bytes())
                events = data["events"]
                if not isinstance(events, list):
                    raise TypeError("events is not a list")
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log_once(
                    "spool-corrupt",
                    logging.WARNING,
                    "llmlab: dropping an unreadable spool file %s (%s)",
                    claimed,
                    exc,
                )
                self.done(claimed)
                continue
            return claimed, events
        return None

    def done(self, claimed: Path) -> None:
        with contextlib.suppress(OSError):
            claimed.unlink()

    def release(self, claimed: Path) -> None:
        """Give a claimed file back (its send failed; it is retried later)."""
        name = claimed.name.split(_CLAIM, 1)[0]
        with contextlib.suppress(OSError):
            os.replace(claimed, claimed.with_name(name))
