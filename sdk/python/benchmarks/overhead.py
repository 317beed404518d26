"""Median overhead of one ``@track_cost`` call versus the same undecorated call.

    python benchmarks/overhead.py [--rounds 100] [--calls 2000] [--base-url URL --api-key KEY]

The function returns a fixture-like OpenAI ``ChatCompletion`` (a real
``openai`` object when the package is installed, else the same JSON as a
dict). Measured twice: with the server up (by default the test suite's
stdlib fake server in a subprocess; ``--base-url``/``--api-key`` point it at
a real ``llmlab serve``) and with it down (a closed port: events are
spooled). Each is measured twice: "caller thread" keeps the background
worker asleep during the timed loop (what the decorated call itself costs),
"incl. background" uses the default sender settings so the worker's
batching, JSON and HTTP (or spool) work competes for the GIL inside the loop.
Queues are flushed between rounds, outside the timed region.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

import llmlab  # noqa: E402

FIXTURE = ROOT.parents[1] / "fixtures" / "openai" / "chat_basic_gpt-4o-mini.body.json"


def make_response() -> Any:
    data = json.loads(FIXTURE.read_bytes())
    try:
        from openai.types.chat import ChatCompletion
    except ImportError:
        return data
    return ChatCompletion.model_validate(data)


def per_call(fn: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def measure(label: str, rounds: int, calls: int) -> float:
    response = make_response()

    def plain() -> Any:
        return response

    tracked = llmlab.track_cost(provider="openai")(plain)
    tracked()  # resolve the configuration and start the worker outside the timing
    llmlab.flush(5)
    overheads = []
    for _ in range(rounds):
        base = per_call(plain, calls)
        with_sdk = per_call(tracked, calls)
        overheads.append(with_sdk - base)
        llmlab.flush(10)
    median = statistics.median(overheads) * 1e6
    p90 = statistics.quantiles(overheads, n=10)[-1] * 1e6
    print(f"{label:<34} median {median:6.2f} µs/call   p90 {p90:6.2f} µs")
    return median


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: The worker sleeps through the timed loop and sends between rounds: the caller's own cost.
CALLER_ONLY = {"max_queue": 1_000_000, "batch_size": 1_000_000, "flush_interval": 3600.0}
#: Default sender settings: the worker batches and sends (or spools) during the loop, so its
#: CPU time, under the GIL, is counted too.
STEADY = {"max_queue": 1_000_000}


def run_all(args: argparse.Namespace, base_url: str, spool: str) -> dict[str, float]:
    figures = {}
    down_url = f"http://127.0.0.1:{free_port()}"
    for server_label, url in (("server up", base_url), ("server down", down_url)):
        for mode_label, transport in (("caller thread", CALLER_ONLY), ("incl. background", STEADY)):
            llmlab.configure(
                api_key=args.api_key, base_url=url, spool_dir=spool, transport=transport
            )
            label = f"{server_label}, {mode_label}"
            figures[label] = measure(label, args.rounds, args.calls)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--base-url", help="a running LLMLab server (default: a fake one)")
    parser.add_argument("--api-key", default="llm_test")
    args = parser.parse_args()
    spool = tempfile.mkdtemp(prefix="llmlab-bench-spool-")
    logging.getLogger("llmlab").setLevel(logging.ERROR)

    server: Optional[subprocess.Popen[str]] = None
    base_url = args.base_url
    if base_url is None:
        # Out of process, so the server's own work does not compete for this GIL.
        server = subprocess.Popen(
            [sys.executable, "-m", "support.fake_llmlab"],
            cwd=ROOT / "tests",
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
    response = make_response()
    print(
        f"python {sys.version.split()[0]}, return value {type(response).__module__}."
        f"{type(response).__name__}, {args.rounds} rounds x {args.calls} calls, "
        f"server {base_url}"
    )
    try:
        run_all(args, base_url, spool)
    finally:
        llmlab.shutdown(0.5)
        if server is not None:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
