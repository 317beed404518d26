"""What the end-to-end benchmarks share (not a test): a realistic synthetic
workload loaded through the real batch endpoint, and importing a conftest by
path. Used by cli/bench_status.py and dashboard/bench_load.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import random
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

BATCH = 10_000

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


def arguments(description: str | None, runs: int) -> argparse.ArgumentParser:
    """The options every end-to-end benchmark takes; add its own before parsing."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=runs)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--days", type=int, default=90, help="spread the events over this many days")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    parser.add_argument("--reuse-key", metavar="KEY", help="measure an already loaded --database-url with this key")
    return parser


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
    """A batch request body of `size` events spread over the `days` before `now`."""
    population = [(p, m) for p, m, _ in MODELS]
    weights = [w for _, _, w in MODELS]
    events = []
    for (provider, model), seconds in zip(
        rng.choices(population, weights, k=size), [rng.randrange(days * 86_400) for _ in range(size)], strict=True
    ):
        event = {
            "provider": provider,
            "model": model,
            "project": rng.choice(PROJECTS),
            "input_tokens": rng.randrange(200, 12_000),
            "output_tokens": rng.randrange(20, 1_500),
            "timestamp": (now - dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if rng.random() < 0.3:
            event["cache_read_tokens"] = rng.randrange(1_000, 8_000)
        events.append(event)
    return json.dumps({"events": events}).encode()


def post(base_url: str, key: str, path: str, body: bytes) -> None:
    """POSTs a JSON body with the key; anything but 2xx raises."""
    request = urllib.request.Request(
        base_url + path,
        data=body,
        method="POST",
        headers={"content-type": "application/json", "authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(request, timeout=600) as response:
        assert 200 <= response.status < 300, response.status


def load(base_url: str, key: str, total: int, threads: int, days: int) -> float:
    """Loads `total` events, `BATCH` a request from `threads` threads; returns the seconds it took."""
    now = dt.datetime.now(dt.UTC)
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
