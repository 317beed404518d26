"""pytest plugin of `cargo dev test`: writes each skip reason with the number
of tests it skipped to the JSON file named by LLMLAB_SKIP_REPORT, so that the
run's final report can say again what did not run and why.

Loaded with `-p llmlab_skip_report` (this folder on PYTHONPATH).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

_REASONS: Counter[str] = Counter()


def _reason(report: Any) -> str:
    longrepr = report.longrepr
    reason = (
        str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    )
    return reason.removeprefix("Skipped: ")


def pytest_runtest_logreport(report: Any) -> None:
    # An expected failure is reported as skipped too: it ran.
    if report.skipped and not hasattr(report, "wasxfail"):
        _REASONS[_reason(report)] += 1


def pytest_collectreport(report: Any) -> None:
    # A module skipped whole at collection: its tests are not known, count it once.
    if report.skipped:
        _REASONS[_reason(report)] += 1


def pytest_sessionfinish(session: Any) -> None:
    path = os.environ.get("LLMLAB_SKIP_REPORT")
    if path:
        Path(path).write_text(json.dumps(dict(_REASONS), indent=2) + "\n")
