"""A fake LLMLab server for transport tests: stdlib ``http.server`` in a thread.

It implements just enough of ``POST /api/events/batch`` and ``/api/events/track``:
it validates the TrackEvent field names (the real server rejects unknown
fields), remembers events by ``event_id`` (so tests can assert "exactly
once"), and can be scripted to answer with errors (``script``), to be down
(``stop()`` then ``start()`` on the same port), or to report a budget state.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
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
        "cost_usd",
        "event_id",
        "timestamp",
        "project",
        "tags",
        "latency_ms",
        "status",
        "batch",
        "service_tier",
    }
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
                status, body, headers = fake.handle(self.path, self.headers, raw)
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

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

    def handle(self, path: str, headers: Any, raw: bytes) -> tuple[int, Any, dict[str, str]]:
        while self.hang.is_set():
            time.sleep(0.01)
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
