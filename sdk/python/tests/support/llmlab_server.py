"""Start a real ``llmlab serve`` on a free port with a fresh SQLite database.

The binary is ``$LLMLAB_BIN`` if set, else ``$CARGO_TARGET_DIR/debug/llmlab``
(``CARGO_TARGET_DIR`` defaults to the repository's ``target/``). A missing
binary is an error with the command that builds it, never a skip.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Optional

REPO = Path(__file__).resolve().parents[4]


def llmlab_bin() -> Path:
    explicit = os.environ.get("LLMLAB_BIN")
    if explicit:
        return Path(explicit)
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    return target / "debug" / "llmlab"


def missing_binary_message(path: Path) -> str:
    return (
        f"the llmlab binary is not at {path}. Build it first:\n"
        f"    (cd {REPO} && cargo build -p llmlab-cli)\n"
        "with the same CARGO_TARGET_DIR as this run, or set LLMLAB_BIN to the binary"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LLMLabServer:
    """One ``llmlab serve`` process; ``start()`` waits for ``/health``."""

    def __init__(
        self,
        binary: Path,
        workdir: Path,
        port: Optional[int] = None,
        database_url: Optional[str] = None,
    ) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = port or free_port()
        self.database = workdir / "db.sqlite"
        #: The server's database: a SQLite file in ``workdir`` unless given.
        self.database_url = database_url or f"sqlite://{self.database}"
        self.log_path = workdir / "server.log"
        self.process: Optional[subprocess.Popen[bytes]] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> LLMLabServer:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("LLMLAB_") and k != "DATABASE_URL"
        }
        env["HOME"] = str(self.workdir)  # no user config or data dir is touched
        env["XDG_CONFIG_HOME"] = str(self.workdir / "config")
        env["XDG_DATA_HOME"] = str(self.workdir / "data")
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                str(self.binary),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--database-url",
                self.database_url,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.workdir,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"llmlab serve exited with {self.process.returncode}:\n{self.log()}"
                )
            try:
                status, _ = self.request("GET", "/health")
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"llmlab serve did not answer /health in {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def request(
        self, method: str, path: str, body: Any = None, api_key: Optional[str] = None
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if api_key:
            req.add_header("Authorization", f"Bearer {api_key}")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                return err.code, json.loads(raw)
            except ValueError:
                return err.code, raw.decode(errors="replace")

    def signup(self) -> str:
        status, body = self.request("POST", "/api/auth/signup", {})
        if status not in (200, 201) or not isinstance(body, dict) or "api_key" not in body:
            raise RuntimeError(f"signup failed: HTTP {status} {body}")
        return str(body["api_key"])
