"""What the SDK's hard mode adds to each call: p50/p99 latency, hard mode vs plain ``track_cost``.

    python benchmarks/hard_mode.py [--calls 2000] [--bin PATH]

The official ``openai`` client calls a local stub upstream (the test suite's
``StubUpstream``, in this process) one call at a time, four ways, interleaved
so that drift hits them alike:

* ``client``: the bare client call;
* ``track_cost``: ``track_cost(client.chat.completions.create)``;
* ``hard, held``: ``track_cost(..., enforce_budget=True)`` on an account with a
  hard budget (every call is held: ``POST /api/budgets/reserve`` answers 201,
  and the call's event settles the hold);
* ``hard, nothing to hold``: the same on an account without a hard budget (200).

LLMLab is a real ``llmlab serve`` on a fresh SQLite database, started here
from ``$LLMLAB_BIN`` (or ``--bin``; default ``$CARGO_TARGET_DIR/debug/llmlab``).
The same is measured for ``AsyncOpenAI`` in one event loop.
"Added" is the hard mode's percentile minus ``track_cost``'s.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

import llmlab  # noqa: E402
from support.llmlab_server import LLMLabServer, llmlab_bin, missing_binary_message  # noqa: E402
from support.stub_upstream import StubUpstream, load_fixtures  # noqa: E402

FIXTURE = "openai/chat_basic_gpt-4o-mini"
MESSAGES: Any = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "Give me three name ideas for a grey cat."},
]
REQUEST: dict[str, Any] = {"model": "gpt-4o-mini", "messages": MESSAGES, "max_tokens": 256}
WARMUP = 50


def percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100)
    return cuts[49] * 1e3, cuts[98] * 1e3


def report(title: str, timings: dict[str, list[float]]) -> None:
    print(f"\n{title}")
    order = ("client", "track_cost", "hard, held", "hard, nothing to hold")
    for name in order:
        samples = timings[name]
        p50, p99 = percentiles(samples)
        print(f"  {name:<24} p50 {p50:7.3f} ms   p99 {p99:7.3f} ms")
    base50, base99 = percentiles(timings["track_cost"])
    for name in ("hard, held", "hard, nothing to hold"):
        if name in timings:
            p50, p99 = percentiles(timings[name])
            print(
                f"  added by {name:<15} p50 {p50 - base50:+7.3f} ms   p99 {p99 - base99:+7.3f} ms"
            )


def configure(server_url: str, key: str, spool: str) -> None:
    llmlab.configure(api_key=key, base_url=server_url, spool_dir=spool, enforce_budget=False)


def measure_sync(
    variants: dict[str, Callable[[], Any]], calls: int, timings: dict[str, list[float]]
) -> None:
    names = list(variants)
    for i in range(calls + WARMUP):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            fn = variants[name]
            start = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - start
            if i >= WARMUP:
                timings.setdefault(name, []).append(elapsed)


async def measure_async(
    variants: dict[str, Callable[[], Any]], calls: int, timings: dict[str, list[float]]
) -> None:
    names = list(variants)
    for i in range(calls + WARMUP):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            fn = variants[name]
            start = time.perf_counter()
            await fn()
            elapsed = time.perf_counter() - start
            if i >= WARMUP:
                timings.setdefault(name, []).append(elapsed)


def hard_budget(server: LLMLabServer, key: str) -> None:
    status, body = server.request(
        "POST",
        "/api/budgets/scoped",
        {"amount_usd": "1000000", "period": "total", "hard": True},
        api_key=key,
    )
    if status not in (200, 201):
        raise SystemExit(f"cannot create the hard budget: HTTP {status} {body}")


def held_now(server: LLMLabServer, key: str) -> str:
    status, body = server.request("GET", "/api/budgets/scoped", api_key=key)
    if status != 200 or not body["budgets"]:
        return "?"
    return str(body["budgets"][0]["status"]["reserved_usd"])


def run(server: LLMLabServer, keys: tuple[str, str], calls: int, spool: str) -> None:
    import openai

    held_key, free_key = keys
    with StubUpstream(load_fixtures()) as stub:
        fx = stub.fixture(FIXTURE)
        client = openai.OpenAI(api_key="sk-test", base_url=stub.base_url(fx, "/v1"))
        create = client.chat.completions.create
        tracked = llmlab.track_cost(create)
        hard = llmlab.track_cost(create, enforce_budget=True)
        variants: dict[str, Callable[[], Any]] = {
            "client": lambda: create(**REQUEST),
            "track_cost": lambda: tracked(**REQUEST),
        }
        sync_times: dict[str, list[float]] = {}
        async_times: dict[str, list[float]] = {}
        for key, name in ((held_key, "hard, held"), (free_key, "hard, nothing to hold")):
            configure(server.url, key, spool)
            measure_sync({**variants, name: lambda: hard(**REQUEST)}, calls // 2, sync_times)
            llmlab.flush(10)

        async def run_async() -> None:
            aclient = openai.AsyncOpenAI(api_key="sk-test", base_url=stub.base_url(fx, "/v1"))
            acreate = aclient.chat.completions.create
            atracked = llmlab.track_cost(acreate)
            ahard = llmlab.track_cost(acreate, enforce_budget=True)
            for key, name in ((held_key, "hard, held"), (free_key, "hard, nothing to hold")):
                configure(server.url, key, spool)
                await measure_async(
                    {
                        "client": lambda: acreate(**REQUEST),
                        "track_cost": lambda: atracked(**REQUEST),
                        name: lambda: ahard(**REQUEST),
                    },
                    calls // 2,
                    async_times,
                )
                llmlab.flush(10)
            await aclient.close()

        asyncio.run(run_async())
    left = llmlab.flush(10)
    print(
        f"python {sys.version.split()[0]}, openai {openai.__version__}, {calls} calls per variant "
        f"(hard ones: {calls // 2} per account), one at a time; LLMLab {server.url}"
    )
    report("sync (OpenAI)", sync_times)
    report("async (AsyncOpenAI)", async_times)
    print(f"\nafterwards: {left} event(s) pending, ${held_now(server, held_key)} still held")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per variant")
    parser.add_argument("--bin", type=Path, default=None, help="the llmlab binary to start")
    args = parser.parse_args()
    logging.getLogger("llmlab").setLevel(logging.ERROR)
    binary = args.bin or llmlab_bin()
    if not binary.is_file():
        raise SystemExit(missing_binary_message(binary))
    with tempfile.TemporaryDirectory(prefix="llmlab-hard-bench-") as tmp:
        server = LLMLabServer(binary, Path(tmp)).start()
        try:
            held_key, free_key = server.signup(), server.signup()
            hard_budget(server, held_key)
            run(server, (held_key, free_key), args.calls, str(Path(tmp) / "spool"))
        finally:
            llmlab.shutdown(2)
            server.stop()


if __name__ == "__main__":
    main()
