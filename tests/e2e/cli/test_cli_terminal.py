"""`llmlab init` at a real terminal (a pseudo-terminal): it asks its questions,
the API key typed at its prompt is never echoed back, and a server that cannot
be reached is asked for again."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import socket
import subprocess
import termios
import time
from pathlib import Path
from typing import Any


class Terminal:
    """A process whose stdin, stdout and stderr are one pseudo-terminal."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.controller, follower = pty.openpty()

        def become_the_terminals_session() -> None:
            # As a shell does: a new session whose controlling terminal is the
            # pty, so /dev/tty (where hidden input is read) is this terminal.
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.process = subprocess.Popen(
            command,
            stdin=follower,
            stdout=follower,
            stderr=follower,
            env=env,
            start_new_session=True,
            preexec_fn=become_the_terminals_session,
        )
        os.close(follower)
        self.screen = ""

    def read_until(self, text: str, timeout: float = 30.0) -> str:
        """Everything shown so far, once `text` has appeared."""
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{text!r} never appeared; the terminal shows:\n{self.screen}"
            ready, _, _ = select.select([self.controller], [], [], remaining)
            if ready:
                try:
                    chunk = os.read(self.controller, 4096)
                except OSError:  # the process ended and closed the terminal
                    chunk = b""
                if not chunk:
                    assert text in self.screen, f"{text!r} never appeared before exit:\n{self.screen}"
                self.screen += chunk.decode(errors="replace")
        return self.screen

    def wait_until_echo_is_off(self, timeout: float = 30.0) -> None:
        """Waits for the program to turn the terminal's echo off (the pty's
        settings are shared by both ends), as a person would see the prompt
        and only then type: a prompt is printed a moment before echo goes off."""
        deadline = time.monotonic() + timeout
        while termios.tcgetattr(self.controller)[3] & termios.ECHO:
            assert time.monotonic() < deadline, f"echo never turned off; the terminal shows:\n{self.screen}"
            time.sleep(0.01)

    def type(self, line: str) -> None:
        os.write(self.controller, line.encode() + b"\r")

    def finish(self, timeout: float = 30.0) -> int:
        """Reads the rest of the output and waits for the exit status."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None or select.select([self.controller], [], [], 0)[0]:
            assert time.monotonic() < deadline, f"still running; the terminal shows:\n{self.screen}"
            if select.select([self.controller], [], [], 0.1)[0]:
                try:
                    chunk = os.read(self.controller, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                self.screen += chunk.decode(errors="replace")
        os.close(self.controller)
        return self.process.wait(timeout=5)


def test_init_at_a_terminal_hides_the_typed_key_and_saves_it(installed_cli: Path, server: Any, tmp_path: Path) -> None:
    key = server.signup("terminal")
    config = tmp_path / "config.toml"
    env = {**os.environ, "LLMLAB_CONFIG": str(config), "NO_COLOR": "1", "TERM": "dumb"}
    env.pop("LLMLAB_API_KEY", None)
    env.pop("LLMLAB_BASE_URL", None)
    terminal = Terminal([str(installed_cli / "llmlab"), "init"], env)

    terminal.read_until("LLMLab server")
    terminal.type(server.base_url)
    terminal.read_until("API key (hidden")
    terminal.wait_until_echo_is_off()
    terminal.type(key)
    status = terminal.finish()

    assert status == 0, terminal.screen
    assert key not in terminal.screen, "the key typed at the prompt was echoed"
    assert f'api_key = "{key}"' in config.read_text()
    assert oct(config.stat().st_mode & 0o777) == "0o600"


def _debug_binary() -> Path:
    """The binary under test, found as the shared conftest's `llmlab_bin` finds it
    (this test needs no wheel: the re-prompt is the binary's own behaviour)."""
    configured = os.environ.get("LLMLAB_BIN")
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path(__file__).resolve().parents[3] / "target"))
    path = Path(configured) if configured else target / "debug" / "llmlab"
    assert path.exists(), f"{path} does not exist: build it with `cargo build -p llmlab-cli`"
    return path


def test_init_at_a_terminal_asks_again_when_the_server_is_unreachable(server: Any, tmp_path: Path) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    unreachable = f"http://127.0.0.1:{closed.getsockname()[1]}"
    closed.close()  # nothing listens there now
    config = tmp_path / "config.toml"
    env = {**os.environ, "LLMLAB_CONFIG": str(config), "NO_COLOR": "1", "TERM": "dumb"}
    env.pop("LLMLAB_API_KEY", None)
    env.pop("LLMLAB_BASE_URL", None)
    terminal = Terminal([str(_debug_binary()), "init"], env)

    terminal.read_until("LLMLab server")
    terminal.type(unreachable)
    screen = terminal.read_until("Type another URL")
    terminal.read_until(f"LLMLab server [{unreachable}]", timeout=10)
    terminal.type("not a url")
    terminal.read_until("LLMLab server [not a url]")
    terminal.type(server.base_url)
    terminal.read_until("API key (hidden")
    terminal.wait_until_echo_is_off()
    terminal.type("")  # empty: create an account
    terminal.read_until("Account name (optional)")
    terminal.type("")
    status = terminal.finish()

    assert status == 0, terminal.screen
    assert f"error: cannot reach the LLMLab server at `{unreachable}`" in screen, screen
    assert terminal.screen.count("? LLMLab server") == 3, terminal.screen
    assert f'base_url = "{server.base_url}"' in config.read_text()
