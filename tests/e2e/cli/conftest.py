"""Fixtures of the CLI's end-to-end test: both wheels built as files (the
`llmlab-cli` wheel by maturin, the `llmlab` SDK wheel by pip), installed as
files (not the source folders) into one fresh virtualenv, and the wall
times of it all. Each long step prints its progress as it goes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cli_support import TIMINGS

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO = Path(__file__).resolve().parents[3]
CLI_CRATE = REPO / "crates" / "llmlab-cli"
SDK = REPO / "sdk" / "python"


def _maturin() -> list[str]:
    beside_python = Path(sys.executable).parent / "maturin"
    if beside_python.exists():
        return [str(beside_python)]
    found = shutil.which("maturin")
    if found:
        return [found]
    pytest.fail("maturin is not installed: `pip install -r tests/e2e/requirements.txt`")


def _say(config: pytest.Config, line: str) -> None:
    """Prints past pytest's output capture, at once: progress of a long step."""
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        print(line, flush=True)
        return
    with capture.global_and_fixture_disabled():
        print(line, flush=True)


def _run_with_progress(config: pytest.Config, what: str, command: list[str]) -> float:
    """Runs `command`, streaming its output line by line; fails the test
    with its last lines when it fails. Returns its wall time in seconds."""
    _say(config, f"\n{what}: {' '.join(command)}")
    started = time.monotonic()
    tail: list[str] = []
    with subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip("\n")
            tail = [*tail[-40:], line]
            _say(config, f"  | {line}")
    seconds = time.monotonic() - started
    if process.returncode != 0:
        pytest.fail(f"{what} failed ({' '.join(command)}):\n" + "\n".join(tail), pytrace=False)
    _say(config, f"{what}: done in {seconds:.1f} s")
    return seconds


def _one(folder: Path, pattern: str) -> Path:
    found = list(folder.glob(pattern))
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(scope="session")
def cli_wheel(pytestconfig: pytest.Config) -> Iterator[Path]:
    """The `llmlab-cli` wheel file: `$LLMLAB_CLI_WHEEL`, or built now by maturin
    with the cargo profile `$LLMLAB_CLI_WHEEL_PROFILE` (default `dev`: `cargo dev
    test` has just built that profile, so only the binary is linked again)."""
    given = os.environ.get("LLMLAB_CLI_WHEEL")
    if given:
        TIMINGS["wheel build (skipped: LLMLAB_CLI_WHEEL)"] = 0.0
        yield Path(given)
        return
    with tempfile.TemporaryDirectory(prefix="llmlab-wheel-") as out:
        profile = os.environ.get("LLMLAB_CLI_WHEEL_PROFILE", "dev")
        command = [*_maturin(), "build", "--profile", profile, "-m", str(CLI_CRATE / "Cargo.toml"), "-o", out]
        what = f"building the llmlab-cli wheel (maturin, {profile} profile)"
        TIMINGS[f"wheel build (maturin, {profile})"] = _run_with_progress(pytestconfig, what, command)
        yield _one(Path(out), "llmlab_cli-*.whl")


@pytest.fixture(scope="session")
def sdk_wheel(pytestconfig: pytest.Config) -> Iterator[Path]:
    """The `llmlab` SDK wheel file, built from sdk/python by pip."""
    with tempfile.TemporaryDirectory(prefix="llmlab-sdk-wheel-") as out:
        command = [
            sys.executable, "-m", "pip", "wheel", "--no-deps", "--progress-bar", "off",
            "--disable-pip-version-check", str(SDK), "-w", out,
        ]  # fmt: skip
        what = "building the llmlab SDK wheel"
        TIMINGS["SDK wheel build (pip wheel)"] = _run_with_progress(pytestconfig, what, command)
        yield _one(Path(out), "llmlab-*.whl")


@pytest.fixture(scope="session")
def installed_cli(pytestconfig: pytest.Config, cli_wheel: Path, sdk_wheel: Path) -> Iterator[Path]:
    """A fresh virtualenv with only the two wheel files installed; its `bin` folder."""
    with tempfile.TemporaryDirectory(prefix="llmlab-cli-venv-") as folder:
        venv = Path(folder) / "venv"
        # No pip inside: the test environment's pip installs into it (`--python`), 10 s faster.
        seconds = _run_with_progress(
            pytestconfig, "creating a fresh virtualenv", [sys.executable, "-m", "venv", "--without-pip", str(venv)]
        )
        python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
        command = [
            sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index", "--no-deps",
            "--progress-bar", "off", "--disable-pip-version-check", str(cli_wheel), str(sdk_wheel),
        ]  # fmt: skip
        seconds += _run_with_progress(pytestconfig, "installing both wheel files into it", command)
        TIMINGS["fresh virtualenv + pip install of both wheels"] = seconds
        yield python.parent


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TIMINGS:
        return
    terminalreporter.section("llmlab-cli end-to-end wall times")
    for name, seconds in TIMINGS.items():
        terminalreporter.write_line(f"{name}: {seconds:.1f} s")
    output = Path(os.environ.get("LLMLAB_TEST_OUTPUT", REPO / "target" / "test-output"))
    output.mkdir(parents=True, exist_ok=True)
    (output / "cli-e2e-timings.json").write_text(json.dumps(TIMINGS, indent=2) + "\n")
