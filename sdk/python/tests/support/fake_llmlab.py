"""A fake LLMLab server for transport tests: stdlib ``http.server`` in a thread.

It implements just enough of ``POST /api/events/batch`` and ``/api/events/track``:
it validates the TrackEvent field names (the real server rejects unknown
fields), remembers events by ``event_id`` (so tests can assert "exactly
once"), and can be scripted to answer with errors (``script``), to be down
(``stop()`` then ``start()`` on the same port), or to report a budget state.

Hard mode: ``POST /api/budgets/reserve`` holds ``hold_usd`` per call against
``hard_budget_usd`` (``None``: no hard budget, 200 with nothing held) and
refuses with 429 ``budget_exceeded`` when it cannot; an event carrying a
``reservation_id`` releases its hold and adds ``event_cost_usd`` to the
spend; ``DELETE /api/budgets/reservations/{id}`` releases a hold (204, or
404 when it is gone). ``reserve_script`` scripts the reserve answers alone,
``reserve_delay`` slows them down (timeouts).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

TRACK_EVENT_FIELDS = frozenset(
    {
        "provider",
        "model",
        "usage",
        "usageMetadata",
        "usage_metadata",
        "input_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "cache_write_1h_tokens",
        "output_tokens",
        "reasoning_tokens",
        "input_audio_tokens",
        "output_audio_tokens",
        "web_search_requests",
        "web_fetch_requests",
        "file_search_calls",
        "container_sessions",
        "grounded_prompts",
        "response_parts",
        "cost_usd",
        "event_id",
        "timestamp",
        "project",
        "tags",
        "latency_ms",
        "status",
        "batch",
        "service_tier",
        "reservation_id",
        "partial",
        "partial_reason",
    }
)

RESERVE_FIELDS = frozenset(
    {"provider", "model", "request", "path", "max_output_tokens", "project", "tags"}
)


class Scripted:
    """One canned answer: ``status``, optional JSON ``body`` and ``headers``."""

    def __init__(
        self, status: int, body: Any = None, headers: Optional[dict[str, str]] = None
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}


class FakeLLMLab:
    def __init__(self, api_key: str = "llm_test") -> None:
        self.api_key = api_key
        self.lock = threading.Lock()
        self.events: dict[str, dict[str, Any]] = {}
        self.receipts: Counter[str] = Counter()  # event_id -> times received in a 2xx batch
        self.requests: list[dict[str, Any]] = []  # every request: path, status, n events
        self.script: list[Scripted] = []
        self.budget: dict[str, Any] = {"state": "none", "spent_usd": "0", "unpriced_calls": 0}
        self.hang = threading.Event()  # set: requests block until cleared (queue-full tests)
        self.max_events_per_batch: Optional[int] = None  # answer 413 above this
        # Hard mode.
        self.hard_budget_usd: Optional[Decimal] = None
        self.hold_usd = Decimal("0.01")
        self.event_cost_usd = Decimal("0.008")
        self.spent_usd = Decimal(0)
        self.holds: dict[str, Decimal] = {}
        self.reservations: list[dict[str, Any]] = []  # every reserve request body
        self.released: list[str] = []  # holds released by DELETE
        self.settled: list[str] = []  # holds released by an event
        self.reserve_script: list[Scripted] = []
        self.reserve_delay = 0.0
        self.budget_requests_received = 0  # counted before the delay
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeLLMLab:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status, body, headers = fake.handle(self.path, self.headers, raw, self.command)
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_DELETE = do_POST

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (the port stays reserved for a later ``start()``)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- behaviour -----------------------------------------------------------------------

    def handle(
        self, path: str, headers: Any, raw: bytes, method: str = "POST"
    ) -> tuple[int, Any, dict[str, str]]:
        while self.hang.is_set():
            time.sleep(0.01)
        if path.startswith("/api/budgets/"):
            with self.lock:
                self.budget_requests_received += 1
            if self.reserve_delay:
                time.sleep(self.reserve_delay)
            return self._budgets(path, headers, raw, method)
        with self.lock:
            entry: dict[str, Any] = {"path": path, "events": 0, "at": time.monotonic()}
            self.requests.append(entry)
            if self.script:
                canned = self.script.pop(0)
                entry["status"] = canned.status
                return canned.status, canned.body, canned.headers
            if headers.get("Authorization") != f"Bearer {self.api_key}":
                entry["status"] = 401
                return 401, _error("api_key_invalid", "bad key"), {}
            try:
                payload = json.loads(raw)
            except ValueError:
                entry["status"] = 400
                return 400, _error("invalid_json", "not json"), {}
            if path == "/api/events/batch":
                events = payload.get("events")
            elif path == "/api/events/track":
                events = [payload]
            else:
                entry["status"] = 404
                return 404, _error("not_found", path), {}
            entry["events"] = len(events)
            if self.max_events_per_batch is not None and len(events) > self.max_events_per_batch:
                entry["status"] = 413
                return 413, _error("payload_too_large", "too many"), {}
            for event in events:
                problem = _invalid(event)
                if problem:
                    entry["status"] = 422
                    return 422, _error("invalid_event", problem), {}
            results = []
            inserted = duplicates = 0
            for event in events:
                event_id = event.get("event_id")
                duplicate = event_id in self.events
                if duplicate:
                    duplicates += 1
                else:
                    inserted += 1
                    self.events[event_id] = event
                    hold = event.get("reservation_id")
                    if hold is not None and self.holds.pop(hold, None) is not None:
                        self.settled.append(hold)
                        self.spent_usd += self.event_cost_usd
                self.receipts[event_id] += 1
                results.append({"event_id": event_id, "duplicate": duplicate, "priced": False})
            entry["status"] = 201
            body = {
                "inserted": inserted,
                "duplicates": duplicates,
                "results": results,
                "budget": dict(self.budget),
            }
            return 201, body, {}

    def event_list(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.events.values())

    def _budgets(
        self, path: str, headers: Any, raw: bytes, method: str
    ) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            entry: dict[str, Any] = {"path": path, "method": method, "at": time.monotonic()}
            self.requests.append(entry)
            if method == "POST" and path == "/api/budgets/reserve" and self.reserve_script:
                canned = self.reserve_script.pop(0)
                entry["status"] = canned.status
                return canned.status, canned.body, canned.headers
            if headers.get("Authorization") != f"Bearer {self.api_key}":
                entry["status"] = 401
                return 401, _error("invalid_api_key", "bad key"), {}
            if method == "DELETE" and path.startswith("/api/budgets/reservations/"):
                hold = path.rsplit("/", 1)[1]
                if self.holds.pop(hold, None) is None:
                    entry["status"] = 404
                    return 404, _error("not_found", f"no hold `{hold}`"), {}
                self.released.append(hold)
                entry["status"] = 204
                return 204, None, {}
            if method != "POST" or path != "/api/budgets/reserve":
                entry["status"] = 404
                return 404, _error("not_found", path), {}
            body = json.loads(raw)  # invalid JSON here is an SDK bug: let the test see a 500
            self.reservations.append(body)
            unknown = set(body) - RESERVE_FIELDS
            if unknown or not isinstance(body.get("provider"), str):
                entry["status"] = 422
                return 422, _error("invalid_field", f"unknown field(s) {sorted(unknown)}"), {}
            if body.get("model") is None and body.get("request") is None:
                entry["status"] = 422
                message = "`model`: give the `model`, or the `request` about to be sent"
                return 422, _error("invalid_field", message), {}
            if self.hard_budget_usd is None:
                entry["status"] = 200
                return 200, _nothing_held(), {}
            held = sum(self.holds.values(), Decimal(0))
            if self.spent_usd + held + self.hold_usd > self.hard_budget_usd:
                entry["status"] = 429
                message = (
                    f"LLMLab hard budget reached: the total budget of the account is "
                    f"${self.hard_budget_usd}; ${self.spent_usd} is spent and ${held} is held"
                )
                return 429, _error("budget_exceeded", message), {}
            hold = f"rsv_{uuid.uuid4().hex}"
            self.holds[hold] = self.hold_usd
            entry["status"] = 201
            answer = {
                "reservation_id": hold,
                "reserved_usd": str(self.hold_usd),
                "expires_at": "2030-01-01T00:00:00.000Z",
                "budget_ids": [1],
            }
            return 201, answer, {}


def _nothing_held() -> dict[str, Any]:
    return {"reservation_id": None, "reserved_usd": "0", "expires_at": None, "budget_ids": []}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _invalid(event: Any) -> Optional[str]:
    if not isinstance(event, dict):
        return "event is not an object"
    unknown = set(event) - TRACK_EVENT_FIELDS
    if unknown:
        return f"unknown field(s) {sorted(unknown)}"
    if not isinstance(event.get("provider"), str) or not isinstance(event.get("model"), str):
        return "provider and model are required strings"
    if not event.get("event_id"):
        return "event_id missing"
    if event.get("model") == "reject-me":
        return "model `reject-me` is invalid (test hook)"
    return None


def main() -> None:
    """``python -m support.fake_llmlab [PORT]``: serve until killed (benchmarks use it)."""
    import sys

    server = FakeLLMLab()
    server.port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server.start()
    print(server.url, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
