"""A stub OpenAI / Anthropic / Gemini upstream that serves the shared recorded fixtures.

Reusable by any test suite (the SDK's now, the proxy's later)::

    from support.stub_upstream import StubUpstream, load_fixtures

    with StubUpstream() as stub:
        fx = stub.fixture("openai/chat_basic_gpt-4o-mini")
        client = openai.OpenAI(api_key="x", base_url=stub.base_url(fx))

Two ways to pick the body served:

* **Pinned** (what the SDK tests use): a base URL from ``base_url(fixture)``
  starts with ``/fx/<provider-dir>/<name>``; the rest of the path must be the
  fixture's ``request.path`` (the Gemini API version may differ: ``v1`` or
  ``v1beta``), and the request's stream flag must match the fixture's.
* **Matched**: any other path is matched against every fixture by path
  (query ignored except Gemini's ``alt=sse``), the body's ``model`` (or the
  model in a Gemini path) and the stream flag; a unique match is served, an
  ambiguous one gets 409 naming the candidates, none gets 404.

``load_error_fixtures()`` adds the provider error answers of ``fixtures/errors``
(served with their ``status``, so the official clients raise their errors); a
base URL pinning one gets its answer for any request, streamed or not.

Bodies are sent byte for byte, SSE as ``text/event-stream``; with
``chunked=True`` they go out in small chunked-encoding pieces to exercise
stream parsers. Every request is logged in ``requests``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlsplit

#: ``<repo>/fixtures``: this file is ``<repo>/sdk/python/tests/support/stub_upstream.py``.
FIXTURES_DIR = Path(__file__).resolve().parents[4] / "fixtures"

_PROVIDER_DIRS = ("openai", "anthropic", "gemini")


@dataclass(frozen=True)
class Fixture:
    """One valid fixture pair: ``<dir>/<name>.body.<ext>`` + ``<name>.expected.json``."""

    key: str  # "<dir>/<name>"
    directory: str
    name: str
    body: bytes
    body_path: Path
    expected: dict[str, Any]

    @property
    def api(self) -> str:
        return str(self.expected["api"])

    @property
    def stream(self) -> bool:
        return bool(self.expected["stream"])

    @property
    def is_sse(self) -> bool:
        return self.body_path.name.endswith(".sse")

    @property
    def request(self) -> dict[str, Any]:
        return dict(self.expected["request"])

    @property
    def request_body(self) -> dict[str, Any]:
        return dict(self.expected["request"].get("body") or {})

    @property
    def cost_usd(self) -> Optional[str]:
        value = self.expected.get("cost_usd")
        return None if value is None else str(value)

    @property
    def status(self) -> int:
        """The HTTP status served: 200, or an error fixture's 4xx/5xx."""
        return int(self.expected.get("status", 200))

    @property
    def content_type(self) -> str:
        return "text/event-stream" if self.is_sse else "application/json"


def load_fixtures(root: Path = FIXTURES_DIR) -> list[Fixture]:
    """Every valid fixture under ``root`` (not ``invalid/`` nor ``errors/``), sorted by key."""
    return _load(root, _PROVIDER_DIRS)


def load_error_fixtures(root: Path = FIXTURES_DIR) -> list[Fixture]:
    """The provider error answers in ``errors/`` (each with its HTTP ``status``), sorted by key."""
    return _load(root, ("errors",))


def _load(root: Path, directories: tuple[str, ...]) -> list[Fixture]:
    if not root.is_dir():
        raise FileNotFoundError(f"fixtures folder not found at {root}")
    out: list[Fixture] = []
    for directory in directories:
        for expected_path in sorted((root / directory).glob("*.expected.json")):
            name = expected_path.name[: -len(".expected.json")]
            bodies = sorted((root / directory).glob(f"{name}.body.*"))
            if len(bodies) != 1:
                raise ValueError(f"{expected_path}: expected one body file, found {bodies}")
            out.append(
                Fixture(
                    key=f"{directory}/{name}",
                    directory=directory,
                    name=name,
                    body=bodies[0].read_bytes(),
                    body_path=bodies[0],
                    expected=json.loads(expected_path.read_bytes()),
                )
            )
    return out


def _norm_path(path: str) -> str:
    """Compare request paths without the Gemini API version (``/v1/`` vs ``/v1beta/``)."""
    split = urlsplit(path)
    p = split.path
    for version in ("/v1beta/", "/v1alpha/"):
        if p.startswith(version):
            p = "/v1/" + p[len(version) :]
    return p


def _request_is_stream(path: str, body: Any) -> bool:
    if ":streamGenerateContent" in path:
        return True
    return isinstance(body, dict) and body.get("stream") is True


class _Server(ThreadingHTTPServer):
    # The default backlog (5) drops connections when hundreds of calls arrive at once
    # (the hard-budget concurrency tests); each dropped SYN costs the client a second.
    request_queue_size = 512
    daemon_threads = True


class StubUpstream:
    """A threaded HTTP server serving fixtures; usable as a context manager."""

    def __init__(self, fixtures: Optional[list[Fixture]] = None, *, chunked: bool = False) -> None:
        self.fixtures = {f.key: f for f in (fixtures if fixtures is not None else load_fixtures())}
        self.chunked = chunked
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server: Optional[ThreadingHTTPServer] = None
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> StubUpstream:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without TCP_NODELAY the body waits for
            # the client's delayed ACK, 40 ms a call on Linux (benchmarks time these calls).
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, content_type, body = stub.respond(self.path, raw, dict(self.headers))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                if stub.chunked and status == 200:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for i in range(0, len(body), 64):
                        piece = body[i : i + 64]
                        self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            do_GET = do_POST

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StubUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- lookup --------------------------------------------------------------------------

    def fixture(self, key: str) -> Fixture:
        return self.fixtures[key]

    def base_url(self, fixture: Fixture, suffix: str = "") -> str:
        """A base URL that pins ``fixture``; ``suffix`` is the client's API root (e.g. ``/v1``)."""
        return f"{self.url}/fx/{fixture.key}{suffix}"

    # -- serving -------------------------------------------------------------------------

    def respond(self, path: str, raw: bytes, headers: dict[str, str]) -> tuple[int, str, bytes]:
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        entry: dict[str, Any] = {"path": path, "body": body, "headers": headers}
        with self._lock:
            self.requests.append(entry)
        stream = _request_is_stream(path, body)
        if path.startswith("/fx/"):
            parts = path.split("/", 4)  # "", "fx", dir, name, rest
            key = f"{parts[2]}/{parts[3]}" if len(parts) > 3 else ""
            rest = "/" + parts[4] if len(parts) > 4 else "/"
            fixture = self.fixtures.get(key)
            if fixture is None:
                return _error(404, f"no fixture {key!r}")
            if fixture.status != 200:
                # An error answer comes whatever was asked: streamed or not, any method.
                entry["fixture"] = fixture.key
                return fixture.status, fixture.content_type, fixture.body
            if _norm_path(rest) != _norm_path(fixture.request["path"]):
                return _error(400, f"fixture {key} answers {fixture.request['path']}, not {rest}")
            if stream != fixture.stream:
                return _error(
                    400, f"fixture {key} has stream={fixture.stream}, the request stream={stream}"
                )
        else:
            candidates = self._match(path, body, stream)
            if len(candidates) != 1:
                names = [f.key for f in candidates]
                if not names:
                    return _error(404, f"no fixture matches {path} (stream={stream})")
                return _error(409, f"{len(names)} fixtures match {path}: {names}")
            fixture = candidates[0]
        entry["fixture"] = fixture.key
        return fixture.status, fixture.content_type, fixture.body

    def _match(self, path: str, body: Any, stream: bool) -> list[Fixture]:
        want_path = _norm_path(path)
        alt_sse = "alt=sse" in (urlsplit(path).query or "")
        model = body.get("model") if isinstance(body, dict) else None
        out = []
        for fixture in self.fixtures.values():
            if fixture.stream != stream or _norm_path(fixture.request["path"]) != want_path:
                continue
            if ":streamGenerateContent" in want_path and fixture.is_sse != alt_sse:
                continue
            if model is not None and fixture.request.get("model") != model:
                continue
            out.append(fixture)
        return out


def _error(status: int, message: str) -> tuple[int, str, bytes]:
    body = json.dumps({"error": {"type": "stub_upstream", "message": message}}).encode()
    return status, "application/json", body
