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

import argparse
import datetime as dt
import importlib.util
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
BATCH = 10_000
GOAL_MS = 100

# Catalog models (priced) and one the catalog lacks (unpriced), with rough weights.
MODELS = [
    ("openai", "gpt-4o", 8),
    ("openai", "gpt-4o-mini", 20),
    ("openai", "gpt-4.1", 5),
    ("openai", "o3", 3),
    ("anthropic", "claude-sonnet-4-5", 10),
    ("anthropic", "claude-haiku-4-5", 10),
    ("anthropic", "claude-opus-4-1", 1),
    ("google", "gemini-2.5-pro", 5),
    ("google", "gemini-2.5-flash", 15),
    ("acme", "acme-large-v1", 1),
]
PROJECTS = ["chatbot", "search", "summarizer", "agents", "evals", "default"]


def load_module(name: str, path: Path) -> Any:
    """Imports a conftest by path, under a name of its own."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def make_batch(rng: random.Random, size: int, now: dt.datetime, days: int) -> bytes:
    population = [(p, m) for p, m, _ in MODELS]
    weights = [w for _, _, w in MODELS]
    events = []
    for provider, model in rng.choices(population, weights, k=size):
        event = {
            "provider": provider,
            "model": model,
            "project": rng.choice(PROJECTS),
            "input_tokens": rng.randrange(200, 12_000),
            "output_tokens": rng.randrange(20, 1_500),
            "timestamp": (now - dt.timedelta(seconds=rng.randrange(days * 86_400))).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if rng.random() < 0.3:
            event["cache_read_tokens"] = rng.randrange(1_000, 8_000)
        events.append(event)
    return json.dumps({"events": events}).encode()


def post(base_url: str, key: str, path: str, body: bytes) -> None:
    request = urllib.request.Request(
        base_url + path,
        data=body,
        method="POST",
        headers={"content-type": "application/json", "authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(request, timeout=600) as response:
        assert response.status == 201, response.status


def load(base_url: str, key: str, total: int, threads: int, days: int) -> float:
    """Loads `total` events; returns the seconds it took."""
    now = dt.datetime.now(dt.timezone.utc)
    batches = [min(BATCH, total - start) for start in range(0, total, BATCH)]
    done = [0]
    lock = threading.Lock()
    started = time.perf_counter()

    def send(index_size: tuple[int, int]) -> None:
        index, size = index_size
        post(base_url, key, "/api/events/batch", make_batch(random.Random(index), size, now, days))
        with lock:
            done[0] += size
            if done[0] % 100_000 < BATCH:
                rate = done[0] / (time.perf_counter() - started)
                print(f"  {done[0]:>9,} events stored ({rate:,.0f}/s)", file=sys.stderr)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, enumerate(batches)))
    return time.perf_counter() - started


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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--days", type=int, default=90, help="spread the events over this many days")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    parser.add_argument("--reuse-key", metavar="KEY", help="measure an already loaded --database-url with this key")
    args = parser.parse_args()

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
