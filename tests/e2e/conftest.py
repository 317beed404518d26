"""Shared fixtures for LLMLab's end-to-end tests: a real `llmlab serve`.

Run by `cargo dev test` (which sets LLMLAB_BIN to the freshly built binary
and LLMLAB_TEST_OUTPUT to a folder for screenshots and reports).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"


def llmlab_bin() -> Path:
    """The `llmlab` binary under test."""
    configured = os.environ.get("LLMLAB_BIN")
    if configured:
        path = Path(configured)
    else:
        target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
        path = target / "debug" / "llmlab"
    if not path.exists():
        pytest.fail(f"{path} does not exist: build it with `cargo build -p llmlab-cli` (or run `cargo dev test`)")
    return path


def test_output_dir() -> Path:
    """Where tests save screenshots and reports."""
    folder = Path(os.environ.get("LLMLAB_TEST_OUTPUT", REPO / "target" / "test-output"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Server:
    """A running `llmlab serve`."""

    process: subprocess.Popen[str]
    base_url: str
    log_lines: list[str] = field(default_factory=list)

    def request(self, method: str, path: str, body: Any = None, key: str | None = None) -> tuple[int, Any]:
        """Sends a JSON request; returns (status, parsed body or text)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            request.add_header("content-type", "application/json")
        if key:
            request.add_header("authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read().decode()
                status = response.status
        except urllib.error.HTTPError as error:
            raw = error.read().decode()
            status = error.code
        try:
            return status, json.loads(raw)
        except json.JSONDecodeError:
            return status, raw

    def signup(self, name: str = "e2e") -> str:
        """Creates an account and returns its API key."""
        status, body = self.request("POST", "/api/auth/signup", {"name": name})
        assert status == 201, body
        return str(body["api_key"])

    def log(self) -> str:
        return "\n".join(self.log_lines)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_server(database_url: str, env: dict[str, str] | None = None, args: list[str] | None = None) -> Server:
    """Starts `llmlab serve` on a free port and waits until it listens."""
    process = subprocess.Popen(
        [str(llmlab_bin()), "serve", "--port", "0", "--database-url", database_url, *(args or [])],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "LLMLAB_LOG": "info,sqlx=warn", **(env or {})},
    )
    ready = threading.Event()
    lines: list[str] = []
    found: dict[str, str] = {}

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line.rstrip("\n"))
            match = re.search(r"running at (http://[^/ ]+)/", line)
            if match and not ready.is_set():
                found["url"] = match.group(1)
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(30):
        process.kill()
        pytest.fail("llmlab serve did not start within 30 s:\n" + "\n".join(lines))
    return Server(process=process, base_url=found["url"], log_lines=lines)


@pytest.fixture(scope="session")
def llmlab_path() -> Path:
    """The `llmlab` binary under test, for tests that run it themselves."""
    return llmlab_bin()


@pytest.fixture
def server_factory() -> Iterator[Callable[..., Server]]:
    """Starts servers on fresh SQLite databases: `server_factory(env={...}, args=[...])`."""
    started: list[Server] = []
    folders: list[tempfile.TemporaryDirectory[str]] = []

    def make(env: dict[str, str] | None = None, args: list[str] | None = None) -> Server:
        folder = tempfile.TemporaryDirectory()
        folders.append(folder)
        server = start_server(f"sqlite://{folder.name}/llmlab.db", env=env, args=args)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
    for folder in folders:
        folder.cleanup()


@pytest.fixture
def server(server_factory: Callable[..., Server]) -> Server:
    """A fresh server on its own SQLite database."""
    return server_factory()


def in_ci() -> bool:
    return os.environ.get("CI", "") in ("true", "1")


def _psql(admin_url: str, statement: str) -> None:
    """Runs one statement as the PostgreSQL test server's admin (psql ships with the server)."""
    psql = shutil.which("psql")
    if psql is None:
        raise RuntimeError("psql is not installed")
    subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", admin_url, "-c", statement], check=True)


def _with_database(url: str, name: str) -> str:
    """`url` with its database name replaced by `name` (the query string kept)."""
    base, _, query = url.partition("?")
    prefix = base.rsplit("/", 1)[0]
    return f"{prefix}/{name}" + (f"?{query}" if query else "")


#: The PostgreSQL the tests use when LLMLAB_TEST_PG_URL is not set (as `.ci/run` starts it).
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database of the backend named by the test's parameter: `sqlite`
    (a file in a temporary folder) or `postgres` (a database created on the
    server of LLMLAB_TEST_PG_URL, or its default, dropped afterwards).

    Whether PostgreSQL is usable is decided before the run: `cargo dev test`
    probes it and, when it cannot be used (never under CI=true), sets
    LLMLAB_TEST_SKIP_POSTGRES to the reason these tests are skipped with.
    """
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield f"sqlite://{tmp_path}/llmlab.db"
        return
    skip = os.environ.get("LLMLAB_TEST_SKIP_POSTGRES")
    if skip:
        pytest.skip(skip)
    admin_url = os.environ.get("LLMLAB_TEST_PG_URL") or DEFAULT_PG_URL
    if shutil.which("psql") is None:
        pytest.fail("psql is not installed: `apt-get install -y postgresql-client`", pytrace=False)
    name = f"llmlab_e2e_{uuid.uuid4().hex}"
    _psql(admin_url, f"create database {name}")
    try:
        yield _with_database(admin_url, name)
    finally:
        _psql(admin_url, f"drop database if exists {name} with (force)")


@pytest.fixture
def backend_server(database_url: str) -> Iterator[Server]:
    """A fresh server on the database of `database_url` (parametrize it `indirect`)."""
    server = start_server(database_url)
    yield server
    server.stop()
