"""`llmlab status` benchmark (not a test): its wall time with 1,000,000 events stored.

    LLMLAB_BIN=target/release/llmlab python tests/e2e/cli/bench_status.py [--events N] [--runs N]

Starts `llmlab serve` on a fresh SQLite database (or `--database-url`), loads
the events through the real ingestion (`POST /api/events/batch`, 10,000
events per batch, from a few threads, spread over 90 days and ten models),
writes a config file with the account's key (as `llmlab init` would), then
runs `llmlab status` (and `--json`) as a user would, a process from start to
exit, and prints the median wall time. The goal is under 100 ms. For scale it
also prints `llmlab --version` (process start alone) and the server's
`GET /api/costs/summary` and `GET /api/budgets/status` on their own.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench_events import BATCH, arguments, load, load_module, post  # noqa: E402

GOAL_MS = 100


def timed(run: Callable[[], None], runs: int, warmup: int = 2) -> list[float]:
    """Wall times of `run()` in ms, after `warmup` unmeasured runs."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> int:
    args = arguments(__doc__, runs=21).parse_args()

    shared = load_module("llmlab_e2e_conftest", HERE.parent / "conftest.py")  # start_server, as the tests use it
    llmlab = str(shared.llmlab_bin())
    folder = tempfile.TemporaryDirectory()
    database = args.database_url or f"sqlite://{folder.name}/bench.db"
    server = shared.start_server(database)
    try:
        print(f"server {server.base_url} ({llmlab}), database {database}", file=sys.stderr)
        if args.reuse_key:
            key = args.reuse_key
        else:
            key = server.signup("bench")
            print(
                f"key {key} (to measure again: --database-url {database} --reuse-key {key})",
                file=sys.stderr,
            )
            print(
                f"loading {args.events:,} events, {BATCH:,} a batch, {args.threads} threads…",
                file=sys.stderr,
            )
            seconds = load(server.base_url, key, args.events, args.threads, args.days)
            print(
                f"loaded in {seconds:.1f} s ({args.events / seconds:,.0f} events/s)",
                file=sys.stderr,
            )
            post(server.base_url, key, "/api/budgets", json.dumps({"amount_usd": "50000"}).encode())
        status, summary = server.request("GET", "/api/costs/summary", key=key)
        assert status == 200, summary
        stored = summary["all_time_calls"]

        # The user's machine: a config file as `llmlab init` writes it, no terminal, no colour.
        config = Path(folder.name) / "config.toml"
        config.write_text(f'base_url = "{server.base_url}"\napi_key = "{key}"\n')
        env = {k: v for k, v in os.environ.items() if k not in ("LLMLAB_API_KEY", "LLMLAB_BASE_URL")}
        env.update({"LLMLAB_CONFIG": str(config), "NO_COLOR": "1"})

        def command(*argv: str) -> Callable[[], None]:
            def run() -> None:
                done = subprocess.run([llmlab, *argv], env=env, stdin=subprocess.DEVNULL, capture_output=True)
                assert done.returncode == 0, done.stderr.decode()

            return run

        def get(path: str) -> Callable[[], None]:
            def run() -> None:
                status, body = server.request("GET", path, key=key)
                assert status == 200, body

            return run

        results = {
            "llmlab status": timed(command("status"), args.runs),
            "llmlab status --json": timed(command("status", "--json"), args.runs),
            "llmlab --version (process start only)": timed(command("--version"), args.runs),
            "GET /api/costs/summary (server only)": timed(get("/api/costs/summary"), args.runs),
            "GET /api/budgets/status (server only)": timed(get("/api/budgets/status"), args.runs),
        }
        sample = subprocess.run([llmlab, "status"], env=env, capture_output=True, text=True)
    finally:
        server.stop()
        folder.cleanup()

    print(f"\nevents stored: {stored:,}\n")
    print(sample.stdout)
    for name, values in results.items():
        spread = f"min {min(values):.1f}, max {max(values):.1f}, {len(values)} runs"
        print(f"{name + ':':<42} median {statistics.median(values):6.1f} ms  ({spread})")
    median = statistics.median(results["llmlab status"])
    verdict = "met" if median < GOAL_MS else "NOT met"
    print(f"goal: `llmlab status` < {GOAL_MS} ms: {verdict} ({median:.1f} ms)")
    return 0 if median < GOAL_MS else 1


if __name__ == "__main__":
    sys.exit(main())
