"""Sending: one batch of TrackEvent JSON to ``/api/events/batch``, with retries, or to the spool.

The worker (``_worker``) hands over built events; this module owns
everything about the server. Retryable failures (connection errors, 408,
429, 5xx) back off exponentially with jitter and honour ``Retry-After``;
when the retries are spent the batch goes to the on-disk spool, which is
resent once the server answers again. 401/403 and invalid events (422) are
dropped with one log line, never retried or spooled; 413 splits the batch.
While the server is known to be down, batches go straight to the spool.

A flush in a hurry talks to the sender through two attributes: ``interrupt``
(stop retrying: spool) and ``flush_deadline`` (do not start a wait that ends
after it).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from typing import TYPE_CHECKING, Any, NamedTuple, Optional
from urllib.parse import quote, urlsplit

from ._internal import log_once

if TYPE_CHECKING:
    import http.client

    from ._budget import BudgetAlerts
    from ._config import Settings, TransportOptions
    from ._spool import Spool

USER_AGENT = "llmlab-python/0.1.0"
BATCH_PATH = "/api/events/batch"
RELEASE_PATH = "/api/budgets/reservations/"


class PostResult(NamedTuple):
    """One POST's outcome: an HTTP answer (``status``…), or the ``error`` that prevented one."""

    status: Optional[int] = None
    retry_after: Optional[float] = None
    payload: Any = None
    error: Optional[BaseException] = None


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


class Sender:
    """Delivers batches to one server, or spools them; see the module docstring.

    Used by one thread at a time (the worker holds its send lock around every call).
    """

    def __init__(
        self,
        settings: Settings,
        options: TransportOptions,
        alerts: BudgetAlerts,
        spool: Spool,
        stop: threading.Event,
    ) -> None:
        self.settings = settings
        self.options = options
        self.alerts = alerts
        self.spool = spool
        self._stop = stop
        #: Set by a flush that cannot wait (or by close): stop retrying and spool.
        self.interrupt = threading.Event()
        #: While a flush waits, its soft deadline (``time.monotonic()``), else ``None``.
        self.flush_deadline: Optional[float] = None
        url = urlsplit(settings.base_url)
        self._scheme = url.scheme or "http"
        self._host = url.hostname or "127.0.0.1"
        self._port = url.port
        self._root = url.path.rstrip("/")
        self._path = self._root + BATCH_PATH
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": f"Bearer {settings.api_key}",
            "User-Agent": USER_AGENT,
        }
        self._conn: Optional[http.client.HTTPConnection] = None
        self._force_probe = False
        self._down_until = 0.0  # our own backoff: a flush may probe before it ends
        self._hold_until = 0.0  # the server's Retry-After: always honoured
        self._failures = 0
        self._next_spool_check = 0.0
        self._reclaimed = False
        self.sent = 0
        self.rejected = 0

    def note_reachable(self) -> None:
        """Another request (a hard-mode reservation) just got an answer: stop sending
        straight to the spool, so the events that settle those holds go out now."""
        if self._failures:
            self._down_until = 0.0
            self._next_spool_check = 0.0

    def release_holds(self, ids: list[str]) -> None:
        """``DELETE`` the budget holds of calls that will send no event; one try each.

        A hold that cannot be released here lapses on the server (its hold TTL).
        """
        for hold in ids:
            if self.interrupt.is_set() and self._stop.is_set():
                return
            result = self._request("DELETE", self._root + RELEASE_PATH + quote(hold, safe=""), None)
            if result.status in (204, 404):
                continue
            what = f"HTTP {result.status}" if result.status is not None else repr(result.error)
            log_once(
                "release-failed",
                logging.WARNING,
                "llmlab: could not release a budget hold (%s: %s); it lapses on the server "
                "after its hold TTL (`llmlab serve --budget-hold-ttl`)",
                what,
                _error_message(result.payload),
            )

    def _release_dropped(self, events: list[dict[str, Any]]) -> None:
        """Events the server refused will not release their holds: release them here."""
        held = [e["reservation_id"] for e in events if isinstance(e.get("reservation_id"), str)]
        if held:
            self.release_holds(held)

    def begin_cycle(self, force: bool) -> None:
        """Start a worker cycle; ``force`` (a flush asked for it) may probe a server held down."""
        self._force_probe = force

    def deliver(self, events: list[dict[str, Any]]) -> None:
        """Send now, or spool: while the server is known to be down, straight to the spool."""
        now = time.monotonic()
        if now < self._hold_until or (now < self._down_until and not self._force_probe):
            self.spool.write(events)
            return
        if not self._send(events, self.options.max_retries):
            self.spool.write(events)

    def resend_spool(self, force: bool) -> None:
        """Resend spooled batches, oldest first, while the server takes them."""
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

    def _past_flush_deadline(self, delay: float = 0.0) -> bool:
        deadline = self.flush_deadline
        return deadline is not None and time.monotonic() + delay > deadline

    def _send(self, events: list[dict[str, Any]], retries: int) -> bool:
        """POST one batch. True: handled (delivered or deliberately dropped). False: keep it."""
        body = json.dumps({"events": events}, separators=(",", ":")).encode("utf-8")
        if len(body) > self.options.max_batch_bytes and len(events) > 1:
            self._send_split(events, retries)
            return True
        attempt = 0
        while True:
            result = self._post(body)
            status = result.status
            if status is not None and 200 <= status < 300:
                self._on_success(result.payload)
                return True
            if status in (401, 403):
                self.rejected += len(events)
                log_once(
                    "auth",
                    logging.ERROR,
                    "llmlab: the server rejected the API key (HTTP %d: %s); events are dropped. "
                    "Check LLMLAB_API_KEY or run `llmlab init`",
                    status,
                    _error_message(result.payload),
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
                    _error_message(result.payload),
                )
                self._release_dropped(events)
                return True
            if status is not None and 400 <= status < 500 and status not in (408, 429):
                self.rejected += len(events)
                log_once(
                    f"http-{status}",
                    logging.WARNING,
                    "llmlab: unexpected HTTP %d from %s (%s); events are dropped",
                    status,
                    self.settings.base_url,
                    _error_message(result.payload),
                )
                self._release_dropped(events)
                return True
            self._note_failure(result)
            attempt += 1
            if attempt > retries or self.interrupt.is_set():
                return False
            if status is None and self.flush_deadline is not None:
                return False  # nothing listening, and a flush is waiting: spool, retry later
            retry_after = result.retry_after
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            if delay > self.options.backoff_max:
                return False  # a long Retry-After: spool now, `_hold_until` keeps us quiet
            if self._past_flush_deadline(delay):
                return False  # a flush is waiting: spool rather than overrun it
            if self.interrupt.wait(delay):
                return False

    def _send_split(self, events: list[dict[str, Any]], retries: int) -> None:
        mid = len(events) // 2
        for half in (events[:mid], events[mid:]):
            if not self._send(half, retries):
                self.spool.write(half)

    def _backoff(self, attempt: int) -> float:
        base = min(self.options.backoff_max, self.options.backoff_base * (2 ** (attempt - 1)))
        return float(base) * (0.5 + random.random() / 2)

    def _note_failure(self, result: PostResult) -> None:
        self._failures += 1
        self._force_probe = False
        now = time.monotonic()
        self._down_until = now + self._backoff(min(self._failures, 16))
        if result.retry_after is not None:
            self._hold_until = now + result.retry_after
        what = f"HTTP {result.status}" if result.status is not None else repr(result.error)
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
            _warn_unknown_providers(payload.get("results"))

    def _new_connection(self) -> http.client.HTTPConnection:
        import http.client

        timeout = self.options.timeout
        if self._scheme == "https":
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout)
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def _post(self, body: bytes) -> PostResult:
        return self._request("POST", self._path, body)

    def _request(self, method: str, path: str, body: Optional[bytes]) -> PostResult:
        import http.client

        for attempt in range(2):
            conn = self._conn
            reused = conn is not None
            if conn is None:
                conn = self._conn = self._new_connection()
            try:
                if conn.sock is None:
                    connect_without_delay(conn)
                conn.request(method, path, body=body, headers=self._headers)
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self._conn = None
                if reused and attempt == 0:
                    continue  # a keep-alive connection the server had closed: one fresh try
                return PostResult(error=exc)
            if response.will_close:
                conn.close()
                self._conn = None
            payload: Any = None
            if data:
                try:
                    payload = json.loads(data)
                except ValueError:
                    payload = None
            return PostResult(
                response.status, parse_retry_after(response.getheader("Retry-After")), payload
            )
        return PostResult()  # pragma: no cover - the loop always returns


def connect_without_delay(conn: http.client.HTTPConnection) -> None:
    """Connect with ``TCP_NODELAY``: http.client writes the headers and the body in two
    sends, and with Nagle on the body can wait for the server's delayed ACK (up to 40 ms
    a request on Linux). Hard mode waits for its reservations, and its holds for events."""
    import socket

    conn.connect()
    sock: Any = conn.sock
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _error_message(payload: Any) -> str:
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):
            return f"{error.get('code')}: {error.get('message')}"
    return "no details"


def _warn_unknown_providers(results: Any) -> None:
    """Say once per provider when the server does not know it (``provider="opena"``):
    its calls stay unpriced until priced, and a typo would otherwise go unnoticed."""
    if not isinstance(results, list):
        return
    for result in results:
        if isinstance(result, dict) and result.get("unpriced_code") == "unknown_provider":
            reason = str(result.get("unpriced_reason") or "")
            provider = reason.split("`")[1] if reason.count("`") >= 2 else reason
            log_once(f"unknown-provider-{provider}", logging.WARNING, "llmlab: %s", reason)
