"""Fixtures of the CLI's end-to-end test: the `llmlab-cli` wheel, built with
maturin and installed into a fresh virtualenv, and the wall times of it all."""

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


def _maturin() -> list[str]:
    beside_python = Path(sys.executable).parent / "maturin"
    if beside_python.exists():
        return [str(beside_python)]
    found = shutil.which("maturin")
    if found:
        return [found]
    pytest.fail("maturin is not installed: `pip install -r tests/e2e/requirements.txt`")


@pytest.fixture(scope="session")
def cli_wheel() -> Iterator[Path]:
    """The `llmlab-cli` wheel: `$LLMLAB_CLI_WHEEL`, or built now with
    `maturin build --release` (incremental in `$CARGO_TARGET_DIR`)."""
    given = os.environ.get("LLMLAB_CLI_WHEEL")
    if given:
        TIMINGS["wheel build (skipped: LLMLAB_CLI_WHEEL)"] = 0.0
        yield Path(given)
        return
    with tempfile.TemporaryDirectory(prefix="llmlab-wheel-") as out:
        profile = os.environ.get("LLMLAB_CLI_WHEEL_PROFILE", "release")
        command = [
            *_maturin(),
            "build",
            "--profile",
            profile,
            "-m",
            str(CLI_CRATE / "Cargo.toml"),
            "-o",
            out,
        ]
        started = time.monotonic()
        built = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        TIMINGS[f"wheel build (maturin, {profile})"] = time.monotonic() - started
        assert built.returncode == 0, f"{' '.join(command)} failed:\n{built.stdout}\n{built.stderr}"
        wheels = list(Path(out).glob("llmlab_cli-*.whl"))
        assert len(wheels) == 1, wheels
        yield wheels[0]


@pytest.fixture(scope="session")
def installed_cli(cli_wheel: Path) -> Iterator[Path]:
    """A fresh virtualenv with only the wheel installed; its `bin` folder."""
    with tempfile.TemporaryDirectory(prefix="llmlab-cli-venv-") as folder:
        venv = Path(folder) / "venv"
        started = time.monotonic()
        # No pip inside: the test environment's pip installs into it (`--python`), 10 s faster.
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "--python",
                str(python),
                "install",
                "--quiet",
                "--no-index",
                "--disable-pip-version-check",
                str(cli_wheel),
            ],
            check=True,
        )
        TIMINGS["fresh virtualenv + pip install of the wheel"] = time.monotonic() - started
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
