"""Importing llmlab is cheap: no provider SDK, no thread, no file or network access."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

CHECK = """
import sys, threading
before = set(sys.modules)
import llmlab
new = set(sys.modules) - before
heavy = sorted(m for m in new if m.split(".")[0] in {"openai", "anthropic", "google", "httpx",
               "httpx2", "pydantic", "tomllib", "asyncio", "ssl", "http", "concurrent", "socket"})
assert not heavy, heavy
assert threading.active_count() == 1, threading.enumerate()
print(sorted(llmlab.__all__))
"""


def test_import_pulls_in_no_provider_sdk_and_starts_nothing() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHECK],
        env={"PYTHONPATH": str(SRC), "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(
        [
            "BudgetCheckFailed",
            "BudgetExceeded",
            "BudgetUnbounded",
            "BudgetWarning",
            "configure",
            "flush",
            "shutdown",
            "track",
            "track_cost",
        ]
    )
