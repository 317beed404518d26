"""Background delivery: bounded queue, one lazily started daemon worker, batches, retries, spool.

The caller's thread only appends to a bounded deque (``enqueue``): no lock,
no I/O, no JSON. The worker wakes every ``flush_interval`` (or when a batch
is full), turns records into TrackEvent JSON, and POSTs them to
``/api/events/batch``. Retryable failures (connection errors, 408, 429,
5xx) back off exponentially with jitter and honour ``Retry-After``; when the
retries are spent the batch goes to the on-disk spool, which is resent once
the server answers again. 401/403 and invalid events (422) are dropped with
one log line, never retried or spooled; 413 splits the batch.
"""

from __future__ import annotations

import atexit
import json
import logging
import random
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from itertools import count
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import urlsplit

from ._budget import BudgetAlerts
from ._event import Item, build_event, wall_offset
from ._internal import internal_error, log_once
from ._spool import Spool

if TYPE_CHECKING:
    import http.client

    from ._config import Settings

USER_AGENT = "llmlab-python/0.1.0"
BATCH_PATH = "/api/events/batch"


@dataclass
class TransportOptions:
    """Tuning knobs (``llmlab.configure(transport={...})``); the defaults suit most programs."""

    batch_size: int = 100
    flush_interval: float = 1.0
    max_queue: int = 10_000
    max_batch_bytes: int = 1 << 20
    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    timeout: float = 5.0
    spool_max_bytes: int = 16 << 20
    spool_max_files: int = 2000
    spool_retry_interval: float = 30.0
    thread_restart_interval: float = 5.0
    exit_timeout: float = 2.0


_PostResult = tuple[Optional[int], Optional[float], Any, Optional[BaseException]]


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Transport:
    """Delivers records to one LLMLab server; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        options: Optional[TransportOptions] = None,
        alerts: Optional[BudgetAlerts] = None,
    ) -> None:
        self.settings = settings
        self.options = options or TransportOptions()
        self.alerts = alerts or BudgetAlerts()
        self.spool = Spool(
            settings.spool_dir, self.options.spool_max_bytes, self.options.spool_max_files
        )
        url = urlsplit(settings.base_url)
        self._scheme = url.scheme or "http"
        self._host = url.hostname or "127.0.0.1"
        self._port = url.port
        self._path = url.path.rstrip("/") + BATCH_PATH
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": f"Bearer {settings.api_key}",
            "User-Agent": USER_AGENT,
        }
        self._atexit_registered = False
        self._closed = False
        self._init_runtime_state()

    def _init_runtime_state(self) -> None:
        """Everything that must be fresh in a new process (``__init__`` and after ``fork``)."""
        self._queue: deque[Item] = deque()
        self._thread: Optional[threading.Thread] = None
        self._start_lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._cv = threading.Condition()
        self._wake = threading.Event()
        self._interrupt = threading.Event()
        self._stop = threading.Event()
        self._next_start_attempt = 0.0
        self._flush_requested = 0
        self._flush_done = 0
        self._flushing = 0
        self._flush_deadline: Optional[float] = None
        self._force_probe = False
        self._inflight: list[Item] = []
        self._inflight_events: list[dict[str, Any]] = []
        self._conn: Optional[http.client.HTTPConnection] = None
        self._down_until = 0.0  # our own backoff: a flush may probe before it ends
        self._hold_until = 0.0  # the server's Retry-After: always honoured
        self._failures = 0
        self._next_spool_check = 0.0
        self._reclaimed = False
        self._drop_counter = count(1)
        self.dropped = 0
        self.sent = 0
        self.rejected = 0

    # -- caller side -------------------------------------------------------------------

    def enqueue(self, record: Item) -> None:
        """Queue one record; never blocks, never raises. Drops (and counts) when full."""
        queue = self._queue
        if len(queue) >= self.options.max_queue:
            self.dropped = next(self._drop_counter)
            log_once(
                "queue-full",
                logging.WARNING,
                "llmlab: event queue full (%d); dropping events until the worker catches up",
                self.options.max_queue,
            )
            return
        queue.append(record)
        if self._thread is None:
            self._ensure_worker()
        elif len(queue) >= self.options.batch_size:
            self._wake.set()

    def pending(self) -> int:
        """Items queued or being sent right now (spooled ones are not pending)."""
        return len(self._queue) + len(self._inflight)

    def _ensure_worker(self) -> None:
        with self._start_lock:
            if self._thread is not None or self._stop.is_set():
                return
            now = time.monotonic()
            if now < self._next_start_attempt:
                return
            self._next_start_attempt = now + self.options.thread_restart_interval
            try:
                thread = threading.Thread(target=self._run, name="llmlab-transport", daemon=True)
                thread.start()
            except Exception as exc:  # noqa: BLE001 - e.g. "can't start new thread"
                log_once(
                    "thread-start",
                    logging.WARNING,
                    "llmlab: cannot start the background sender (%s); events are sent on "
                    "llmlab.flush() and at exit",
                    exc,
                )
                self._register_atexit()
                return
            self._thread = thread
            self._register_atexit()

    def _register_atexit(self) -> None:
        if not self._atexit_registered:
            self._atexit_registered = True
            atexit.register(self._at_exit)

    # -- flush / shutdown ---------------------------------------------------------------

    def flush(self, timeout: float = 5.0, *, urgent: bool = False) -> int:
        """Deliver (or spool) what is queued; return how many records are still pending.

        Retries run on their usual schedule while time allows; shortly before
        the deadline the worker is told to stop retrying and spool instead.
        ``urgent`` (at exit) skips the retries: one try per batch, then the spool.
        """
        timeout = max(0.0, timeout)
        deadline = time.monotonic() + timeout
        soft = deadline - min(0.25, timeout / 5)
        thread = self._thread
        if thread is threading.current_thread():
            return self.pending()  # called from a budget callback: cannot wait for ourselves
        with self._cv:
            self._flushing += 1
            if urgent:
                self._interrupt.set()
        try:
            if thread is not None and thread.is_alive():
                with self._cv:
                    self._flush_requested += 1
                    target = self._flush_requested
                    self._flush_deadline = soft
                    self._wake.set()
                    if not self._wait_flushed(target, soft):
                        self._interrupt.set()
                        self._wait_flushed(target, deadline)
            else:
                # No worker (it could not start, or it was stopped): deliver on this thread.
                self._flush_deadline = soft
                self._cycle(force=True)
        except Exception as exc:  # noqa: BLE001
            internal_error(exc)
        finally:
            with self._cv:
                self._flushing -= 1
                if self._flushing == 0:
                    self._flush_deadline = None
                    if not self._stop.is_set():
                        self._interrupt.clear()
        return self.pending()

    def _wait_flushed(self, target: int, until: float) -> bool:
        """Wait (holding ``_cv``) for the worker to finish flush request ``target``."""
        while self._flush_done < target:
            left = until - time.monotonic()
            if left <= 0:
                return False
            self._cv.wait(left)
        return True

    def close(self, timeout: float = 2.0) -> int:
        """Flush with a time cap, stop the worker, and spool what is left. Returns that count."""
        if self._closed:
            return 0
        self.flush(timeout, urgent=True)
        self._closed = True
        self._stop.set()
        self._interrupt.set()
        self._wake.set()
        leftovers: list[dict[str, Any]] = list(self._inflight_events)
        while True:
            try:
                record = self._queue.popleft()
            except IndexError:
                break
            try:
                event = self._build(record)
            except Exception as exc:  # noqa: BLE001
                internal_error(exc)
                continue
            if event is not None:
                leftovers.append(event)
        if self._atexit_registered:
            atexit.unregister(self._at_exit)
            self._atexit_registered = False
        if leftovers:
            # In-flight events may still reach the server too: their ids make that harmless.
            self.spool.write(leftovers)
        return len(leftovers)

    def _at_exit(self) -> None:
        try:
            left = self.close(self.options.exit_timeout)
            if left:
                sys.stderr.write(
                    f"llmlab: {left} event(s) not delivered before exit; saved to "
                    f"{self.settings.spool_dir} and sent on the next run\n"
                )
        except Exception as exc:  # noqa: BLE001
            internal_error(exc)

    def after_fork_in_child(self) -> None:
        """The parent owns what it had queued; the child starts empty with its own worker."""
        self._init_runtime_state()

    # -- worker --------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cv:
                requested = self._flush_requested
            force = requested > self._flush_done
            self._cycle(force=force)
            with self._cv:
                if requested > self._flush_done:
                    self._flush_done = requested
                    self._cv.notify_all()
            if self._stop.is_set():
                return
            self._wake.wait(self.options.flush_interval)
            self._wake.clear()

    def _cycle(self, force: bool) -> None:
        with self._send_lock:
            self._force_probe = force
            try:
                self._drain_queue()
                self._drain_spool(force)
            except Exception as exc:  # noqa: BLE001 - the worker must outlive any bug
                internal_error(exc)
            finally:
                self._inflight = []
                self._inflight_events = []

    def _build(self, record: Item, offset: Optional[float] = None) -> Optional[dict[str, Any]]:
        return build_event(record, self.settings.project, self.settings.tags, offset)

    def _past_flush_deadline(self, delay: float = 0.0) -> bool:
        deadline = self._flush_deadline
        return deadline is not None and time.monotonic() + delay > deadline

    def _drain_queue(self) -> None:
        queue = self._queue
        size = self.options.batch_size
        while queue:
            batch: list[Item] = []
            while queue and len(batch) < size:
                batch.append(queue.popleft())
            self._inflight = batch
            events: list[dict[str, Any]] = []
            offset = wall_offset()
            for record in batch:
                try:
                    event = self._build(record, offset)
                except Exception as exc:  # noqa: BLE001 - one bad record must not sink the batch
                    internal_error(exc)
                    continue
                if event is not None:
                    events.append(event)
            self._inflight_events = events
            if events:
                self._deliver(events)
            self._inflight = []
            self._inflight_events = []

    def _deliver(self, events: list[dict[str, Any]]) -> None:
        """Send now, or spool: while the server is known to be down, straight to the spool."""
        now = time.monotonic()
        if now < self._hold_until or (now < self._down_until and not self._force_probe):
            self.spool.write(events)
            return
        if not self._send(events, self.options.max_retries):
            self.spool.write(events)

    def _drain_spool(self, force: bool) -> None:
        now = time.monotonic()
        if now < self._hold_until:
            return
        if not force and (now < self._down_until or now < self._next_spool_check):
            return
        if force and now < self._down_until and not self._force_probe:
            return
        self._next_spool_check = now + self.options.spool_retry_interval
        if not self._reclaimed:
            self._reclaimed = True
            self.spool.reclaim_stale()
        while not self._stop.is_set() or force:
            if force and self._past_flush_deadline():
                return
            claimed = self.spool.claim_next()
            if claimed is None:
                return
            path, events = claimed
            if self._send(events, 0 if force else 1):
                self.spool.done(path)
            else:
                self.spool.release(path)
                return

    # -- HTTP ----------------------------------------------------------------------------

    def _send(self, events: list[dict[str, Any]], retries: int) -> bool:
        """POST one batch. True: handled (delivered or deliberately dropped). False: keep it."""
        body = json.dumps({"events": events}, separators=(",", ":")).encode("utf-8")
        if len(body) > self.options.max_batch_bytes and len(events) > 1:
            self._send_split(events, retries)
            return True
        attempt = 0
        while True:
            status, retry_after, payload, error = self._post(body)
            if status is not None and 200 <= status < 300:
                self._on_success(payload)
                return True
            if status in (401, 403):
                self.rejected += len(events)
                log_once(
                    "auth",
                    logging.ERROR,
                    "llmlab: the server rejected the API key (HTTP %d: %s); events are dropped. "
                    "Check LLMLAB_API_KEY or run `llmlab init`",
                    status,
                    _error_message(payload),
                )
                return True
            if status in (400, 413, 422):
                if len(events) > 1:
                    # All-or-nothing batches: halve until the bad (or too large) event is alone.
                    self._send_split(events, retries)
                    return True
                self.rejected += 1
                log_once(
                    f"invalid-{status}",
                    logging.WARNING,
                    "llmlab: the server refused an event (HTTP %d: %s); it is dropped",
                    status,
                    _error_message(payload),
                )
                return True
            if status is not None and 400 <= status < 500 and status not in (408, 429):
                self.rejected += len(events)
                log_once(
                    f"http-{status}",
                    logging.WARNING,
                    "llmlab: unexpected HTTP %d from %s (%s); events are dropped",
                    status,
                    self.settings.base_url,
                    _error_message(payload),
                )
                return True
            self._note_failure(status, retry_after, error)
            attempt += 1
            if attempt > retries or self._interrupt.is_set():
                return False
            if status is None and self._flush_deadline is not None:
                return False  # nothing listening, and a flush is waiting: spool, retry later
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            if delay > self.options.backoff_max:
                return False  # a long Retry-After: spool now, `_hold_until` keeps us quiet
            if self._past_flush_deadline(delay):
                return False  # a flush is waiting: spool rather than overrun it
            if self._interrupt.wait(delay):
                return False

    def _send_split(self, events: list[dict[str, Any]], retries: int) -> None:
        mid = len(events) // 2
        for half in (events[:mid], events[mid:]):
            if not self._send(half, retries):
                self.spool.write(half)

    def _backoff(self, attempt: int) -> float:
        base = min(self.options.backoff_max, self.options.backoff_base * (2 ** (attempt - 1)))
        return float(base) * (0.5 + random.random() / 2)

    def _note_failure(
        self, status: Optional[int], retry_after: Optional[float], error: Optional[BaseException]
    ) -> None:
        self._failures += 1
        self._force_probe = False
        now = time.monotonic()
        self._down_until = now + self._backoff(min(self._failures, 16))
        if retry_after is not None:
            self._hold_until = now + retry_after
        what = f"HTTP {status}" if status is not None else repr(error)
        log_once(
            "server-down",
            logging.WARNING,
            "llmlab: cannot reach %s (%s); events are kept on disk in %s and resent later",
            self.settings.base_url,
            what,
            self.settings.spool_dir,
        )

    def _on_success(self, payload: Any) -> None:
        recovered = self._failures > 0
        self._failures = 0
        self._down_until = 0.0
        self._hold_until = 0.0
        if recovered:
            self._next_spool_check = 0.0
        if isinstance(payload, dict):
            inserted = payload.get("inserted")
            if isinstance(inserted, int):
                self.sent += inserted
            self.alerts.handle(payload.get("budget"))

    def _new_connection(self) -> http.client.HTTPConnection:
        import http.client

        timeout = self.options.timeout
        if self._scheme == "https":
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout)
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def _post(self, body: bytes) -> _PostResult:
        import http.client

        for attempt in range(2):
            conn = self._conn
            reused = conn is not None
            if conn is None:
                conn = self._conn = self._new_connection()
            try:
                conn.request("POST", self._path, body=body, headers=self._headers)
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self._conn = None
                if reused and attempt == 0:
                    continue  # a keep-alive connection the server had closed: one fresh try
                return None, None, None, exc
            if response.will_close:
                conn.close()
                self._conn = None
            payload: Any = None
            if data:
                try:
                    payload = json.loads(data)
                except ValueError:
                    payload = None
            return (
                response.status,
                parse_retry_after(response.getheader("Retry-After")),
                payload,
                None,
            )
        return None, None, None, None  # pragma: no cover - the loop always returns


def _error_message(payload: Any) -> str:
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):
            return f"{error.get('code')}: {error.get('message')}"
    return "no details"
