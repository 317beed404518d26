"""SPEC §2 flow 1 with the CLI installed as users install it.

`pip install llmlab-cli` (the wheel built by maturin, in a fresh virtualenv
with the SDK's wheel)
→ `llmlab serve` → `llmlab init` → `llmlab status` → `llmlab budget` →
`llmlab optimize` → `llmlab export` → `llmlab config`, all non-interactive
(stdin is not a terminal), asserting on what a user would read. The whole
flow's wall time, wheel build included, is reported at the end of the run
(goal: under two minutes).
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import subprocess
import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from cli_support import TIMINGS

if TYPE_CHECKING:
    import pytest


class User:
    """One user's shell: a home folder, the installed `llmlab`, no terminal, no colour."""

    def __init__(self, bin_dir: Path, home: Path) -> None:
        self.bin_dir = bin_dir
        self.home = home
        self.config = home / ".config" / "llmlab" / "config.toml"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("LLMLAB_API_KEY", "LLMLAB_BASE_URL", "LLMLAB_CONFIG", "CLICOLOR_FORCE")
        }
        self.env.update(
            {
                "HOME": str(home),
                "NO_COLOR": "1",
                "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            }
        )

    def llmlab(self, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["llmlab", *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == code, (
            f"llmlab {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.llmlab(*args, "--json").stdout)


def test_flow_1_from_wheel_to_tips(
    installed_cli: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    server_factory: Callable[..., Any],
) -> None:
    started = time.monotonic()
    user = User(installed_cli, tmp_path / "home")
    llmlab = installed_cli / "llmlab"
    assert llmlab.exists(), "the wheel installs the `llmlab` command"

    # `python -m llmlab_cli` runs the same binary.
    python = installed_cli / "python"
    module = subprocess.run([str(python), "-m", "llmlab_cli", "--help"], capture_output=True, text=True, env=user.env)
    assert module.returncode == 0, module.stderr
    assert "llmlab init" in module.stdout
    found = subprocess.run(
        [str(python), "-c", "import llmlab_cli; print(llmlab_cli.find_llmlab_bin())"],
        capture_output=True,
        text=True,
    )
    assert Path(found.stdout.strip()) == llmlab

    # Terminal 1: `llmlab serve`, from the wheel too.
    monkeypatch.setenv("LLMLAB_BIN", str(llmlab))
    server = server_factory()

    # Terminal 2: `llmlab init` signs up and writes the private config file the SDK reads.
    init = user.llmlab("init", "--server", server.base_url)
    assert '@track_cost(provider="openai")' in init.stdout
    assert "Created account usr_" in init.stderr
    assert stat.S_IMODE(user.config.stat().st_mode) == 0o600
    config = user.config.read_text()
    key = next(line.split('"')[1] for line in config.splitlines() if line.startswith("api_key"))
    assert f'base_url = "{server.base_url}"' in config
    assert key not in init.stdout + init.stderr, "the key is only in the config file"
    # The SDK installed from its wheel, in the same fresh virtualenv.
    sdk = subprocess.run(
        [
            str(python),
            "-c",
            "from llmlab import _config; s = _config.resolve(_config.Overrides()); print(s.base_url, s.api_key)",
        ],
        capture_output=True,
        text=True,
        env=user.env,
    )
    assert sdk.stdout.split() == [server.base_url, key], (
        f"the SDK reads the CLI's config file: {sdk.stdout}{sdk.stderr}"
    )

    # Some calls: two priced models and one the catalog does not know.
    events = [
        {
            "provider": "openai",
            "model": "gpt-4o",
            "input_tokens": 1_000_000,
            "output_tokens": 50_000,
        },
        {
            "provider": "openai",
            "model": "gpt-4o",
            "input_tokens": 1_000_000,
            "output_tokens": 50_000,
        },
        {
            "provider": "anthropic",
            "model": "claude-haiku-4-5",
            "input_tokens": 100_000,
            "output_tokens": 10_000,
        },
        {"provider": "acme", "model": "acme-1", "input_tokens": 1_000, "output_tokens": 100},
    ]
    status_code, body = server.request("POST", "/api/events/batch", {"events": events}, key=key)
    assert status_code == 201, body

    # `llmlab status`: the spend, by model, the trend, and the unpriced call with its fix.
    status = user.llmlab("status")
    assert "today       $6.15" in status.stdout, status.stdout
    assert "gpt-4o" in status.stdout
    assert "claude-haiku-4-5" in status.stdout
    assert "█" in status.stdout, "the sparkline has today's bar"
    assert "none set" in status.stdout
    assert "1 call has no price" in status.stderr
    assert "llmlab prices set acme-1 --provider acme" in status.stderr
    summary = user.json("status")["summary"]
    assert Decimal(summary["today_usd"]) == Decimal("6.15")
    assert summary["unpriced_calls"] == 1

    # `llmlab budget`: friendly amounts, the status line, warnings from 80%.
    user.llmlab("budget", "0", code=1)
    user.llmlab("budget", "-5", code=1)
    rejected = user.llmlab("budget", "lots", code=1)
    assert rejected.stderr.startswith("error: `lots` is not an amount of dollars\n")
    budget = user.llmlab("budget", "$1,500")
    assert "$6.15 of $1,500.00 (0.4%)" in budget.stdout, budget.stdout
    warned = user.llmlab("budget", "7")
    assert "warning: 87.9% of the monthly budget of $7.00 is spent" in warned.stderr, warned.stderr
    assert user.json("budget")["status"]["state"] == "warning"
    assert "Budget  ████" in user.llmlab("status").stdout

    # `llmlab optimize`: tips with dollar figures, largest saving first.
    optimize = user.llmlab("optimize")
    assert "Switch gpt-4o" in optimize.stdout, optimize.stdout
    assert "/mo" in optimize.stdout
    tips = user.json("optimize")
    savings = [Decimal(t["monthly_savings_usd"]) for t in tips if t["monthly_savings_usd"] is not None]
    assert savings
    assert savings == sorted(savings, reverse=True)

    # `llmlab export`: CSV with a header row and one row per event, to a file or stdout.
    out = tmp_path / "events.csv"
    exported = user.llmlab("export", "--output", str(out))
    assert f"Exported 4 events to {out}" in exported.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 4
    assert {
        "timestamp",
        "provider",
        "model",
        "project",
        "input_tokens",
        "output_tokens",
        "cost_usd",
    } <= set(rows[0])
    assert sum(Decimal(r["cost_usd"] or "0") for r in rows) == Decimal("6.15")
    assert user.llmlab("export").stdout == out.read_text()

    # `llmlab config`: where each setting comes from, the key masked.
    shown = user.llmlab("config")
    assert key not in shown.stdout + shown.stderr
    assert f"{key[:12]}…" in shown.stdout
    settings = user.json("config")
    assert settings["base_url"] == {"value": server.base_url, "source": "file"}
    assert settings["api_key"]["source"] == "file"
    assert settings["config_file"]["path"] == str(user.config)

    TIMINGS["flow 1 (serve, init, status, budget, optimize, export, config)"] = time.monotonic() - started
    TIMINGS["total (build + install + flow)"] = sum(v for k, v in TIMINGS.items() if not k.startswith("total"))
