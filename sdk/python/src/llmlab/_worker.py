"""The worker: a bounded queue, one lazily started daemon thread, batching, flush, fork and exit.

The caller's thread only appends to a bounded deque (``enqueue``): no lock,
no I/O, no JSON. The worker wakes every ``flush_interval`` (or when a batch
is full), turns items into TrackEvent JSON a batch at a time, and hands each
batch to the ``Sender`` (``_sender``), which sends or spools it. The event of
a hard-mode call settles a budget hold, so it is urgent (``enqueue_urgent``):
it wakes the worker at once instead of waiting out the interval, and the
calls that finish while that batch is on the wire go together in the next. ``flush``
asks the worker for a cycle and waits for it; near its deadline it tells the
sender to stop retrying and spool instead. A forked child starts empty with
its own worker; at exit the queue gets about two seconds, then the spool.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
import time
from collections import deque
from itertools import count
from typing import TYPE_CHECKING, Any, Optional

from ._budget import BudgetAlerts
from ._config import TransportOptions
from ._event import Item, build_event, wall_offset
from ._internal import internal_error, log_once
from ._reserve import Reserver
from ._sender import Sender
from ._spool import Spool

if TYPE_CHECKING:
    from ._config import Settings


class Worker:
    """Delivers items to one LLMLab server through a ``Sender``; see the module docstring."""

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
        self._max_queue = self.options.max_queue  # read on every call: one lookup, not two
        self._batch_size = self.options.batch_size
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
        self._stop = threading.Event()
        self._next_start_attempt = 0.0
        self._flush_requested = 0
        self._flush_done = 0
        self._flushing = 0
        self._inflight: list[Item] = []
        self._inflight_events: list[dict[str, Any]] = []
        self._drop_counter = count(1)
        self.dropped = 0
        self._releases: deque[str] = deque()
        self._sender = Sender(self.settings, self.options, self.alerts, self.spool, self._stop)
        #: Hard mode's reservations (its connections and threads are this process's own).
        self.reserver = Reserver(self.settings, self.options, self._sender.note_reachable)

    @property
    def sent(self) -> int:
        """Events the server stored."""
        return self._sender.sent

    @property
    def rejected(self) -> int:
        """Events the server refused (bad key, invalid event): dropped, not spooled."""
        return self._sender.rejected

    # -- caller side -------------------------------------------------------------------

    def enqueue(self, item: Item) -> None:
        """Queue one item; never blocks, never raises. Drops (and counts) when full."""
        queue = self._queue
        if len(queue) >= self._max_queue:
            self.dropped = next(self._drop_counter)
            log_once(
                "queue-full",
                logging.WARNING,
                "llmlab: event queue full (%d); dropping events until the worker catches up",
                self._max_queue,
            )
            return
        queue.append(item)
        if self._thread is None:
            self._ensure_thread()
        elif len(queue) >= self._batch_size:
            self._wake.set()

    def enqueue_urgent(self, item: Item) -> None:
        """Queue the event of a hard-mode call and wake the worker: it releases a budget hold.

        Never dropped for a full queue: each one follows a reservation round
        trip, so they cannot outpace the worker the way plain events can, and a
        dropped one would keep its hold until the server's hold TTL.
        """
        self._queue.append(item)
        if self._thread is None:
            self._ensure_thread()
        self._wake.set()

    def release(self, hold: str) -> None:
        """Release a budget hold whose call will send no event (on the worker, soon)."""
        self._releases.append(hold)
        if self._thread is None:
            self._ensure_thread()
        self._wake.set()

    def pending(self) -> int:
        """Items queued or being sent right now (spooled ones are not pending)."""
        return len(self._queue) + len(self._inflight)

    def _ensure_thread(self) -> None:
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
        """Deliver (or spool) what is queued; return how many items are still pending.

        Retries run on their usual schedule while time allows; shortly before
        the deadline the sender is told to stop retrying and spool instead.
        ``urgent`` (at exit) skips the retries: one try per batch, then the spool.
        """
        timeout = max(0.0, timeout)
        deadline = time.monotonic() + timeout
        soft = deadline - min(0.25, timeout / 5)
        thread = self._thread
        if thread is threading.current_thread():
            return self.pending()  # called from a budget callback: cannot wait for ourselves
        sender = self._sender
        with self._cv:
            self._flushing += 1
            if urgent:
                sender.interrupt.set()
        try:
            if thread is not None and thread.is_alive():
                with self._cv:
                    self._flush_requested += 1
                    target = self._flush_requested
                    sender.flush_deadline = soft
                    self._wake.set()
                    if not self._wait_flushed(target, soft):
                        sender.interrupt.set()
                        self._wait_flushed(target, deadline)
            else:
                # No worker thread (it could not start, or it was stopped): send on this one.
                sender.flush_deadline = soft
                self._cycle(force=True)
        except Exception as exc:  # noqa: BLE001
            internal_error(exc)
        finally:
            with self._cv:
                self._flushing -= 1
                if self._flushing == 0:
                    sender.flush_deadline = None
                    if not self._stop.is_set():
                        sender.interrupt.clear()
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
        self.reserver.close()
        self._closed = True
        self._stop.set()
        self._sender.interrupt.set()
        self._wake.set()
        leftovers: list[dict[str, Any]] = list(self._inflight_events)
        while True:
            try:
                item = self._queue.popleft()
            except IndexError:
                break
            event = self._build(item)
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

    # -- the worker thread ---------------------------------------------------------------

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
            self._sender.begin_cycle(force)
            try:
                self._drain_queue()
                self._release_holds()
                self._sender.resend_spool(force)
            except Exception as exc:  # noqa: BLE001 - the worker must outlive any bug
                internal_error(exc)
            finally:
                self._inflight = []
                self._inflight_events = []

    def _build(self, item: Item, offset: Optional[float] = None) -> Optional[dict[str, Any]]:
        """The item's event JSON; ``None`` when there is nothing to send or building failed.

        An item with a budget hold that yields no event has its hold released instead.
        """
        event = None
        try:
            event = build_event(item, self.settings.project, self.settings.tags, offset)
        except Exception as exc:  # noqa: BLE001 - one bad item must not sink the batch
            internal_error(exc)
        if event is None:
            extra = item[5]
            hold = extra.get("reservation_id") if extra else None
            if hold:
                self._releases.append(hold)
        return event

    def _release_holds(self) -> None:
        releases = self._releases
        holds: list[str] = []
        while releases:
            holds.append(releases.popleft())
        if holds:
            self._sender.release_holds(holds)

    def _drain_queue(self) -> None:
        queue = self._queue
        size = self.options.batch_size
        while queue:
            batch: list[Item] = []
            while queue and len(batch) < size:
                batch.append(queue.popleft())
            self._inflight = batch
            offset = wall_offset()
            events = [e for e in (self._build(item, offset) for item in batch) if e is not None]
            self._inflight_events = events
            if events:
                self._sender.deliver(events)
            self._inflight = []
            self._inflight_events = []
