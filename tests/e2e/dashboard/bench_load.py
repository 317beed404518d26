"""Dashboard load benchmark (not a test): time from navigation to "all data
rendered" with 1,000,000 events stored.

    LLMLAB_BIN=target/release/llmlab python tests/e2e/dashboard/bench_load.py [--events N] [--runs N]

It starts `llmlab serve` on a fresh SQLite database (or `--database-url`),
loads the events through the real ingestion (`POST /api/events/batch`,
10,000 events per batch, from a few threads), then opens `/dashboard` in
headless Chromium. "All data rendered" is the `data-rendered` attribute the
page script sets on <html> after the first paint that follows its start (the
server renders every panel into the HTML, so at that point every panel is on
screen); its value is `performance.now()`, i.e. milliseconds since the
navigation started. Prints the median of several runs, with a warm HTTP cache
(a returning user: CSS and JS are cached as immutable) and a cold one.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench_events import BATCH, arguments, load, load_module, post  # noqa: E402

GOAL_MS = 500


def timed_get(url: str, key: str, etag: str | None = None) -> tuple[float, int, str | None]:
    request = urllib.request.Request(url, headers={"cookie": f"llmlab_session={key}"})
    if etag:
        request.add_header("if-none-match", etag)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            status, tag = response.status, response.headers.get("etag")
    except urllib.error.HTTPError as error:
        status, tag = error.code, error.headers.get("etag")
    return (time.perf_counter() - started) * 1000, status, tag


def one_event(base_url: str, key: str) -> None:
    """A new call, so the account's data (and the dashboard's version) changes."""
    body = {"events": [{"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 100, "output_tokens": 10}]}
    post(base_url, key, "/api/events/batch", json.dumps(body).encode())


def browser_runs(base_url: str, key: str, runs: int) -> dict[str, list[float]]:
    """Navigation → data-rendered, in ms, per scenario."""
    from playwright.sync_api import sync_playwright

    # The browser the tests use, launched the same way.
    browser_setup = load_module("llmlab_dashboard_conftest", HERE / "conftest.py")

    cookie = {"name": "llmlab_session", "value": key, "url": base_url, "httpOnly": True, "sameSite": "Strict"}

    def measure(page: Any) -> float:
        page.goto(base_url + "/dashboard", wait_until="commit")
        page.wait_for_selector("html[data-rendered]", state="attached", timeout=60_000)
        assert page.locator('[data-panel="totals"]').count() == 1, "the dashboard did not render its panels"
        return float(page.locator("html").get_attribute("data-rendered") or "nan")

    results: dict[str, list[float]] = {"same tab": [], "same tab, new event": [], "new tab": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(browser_setup.CHROMIUM), args=browser_setup.CHROMIUM_ARGS
        )
        context = browser.new_context(viewport=browser_setup.DESKTOP)
        context.add_cookies([cookie])
        tab = context.new_page()
        measure(tab)  # fills the HTTP cache (CSS and JS are immutable)
        for _ in range(runs):
            # A returning user in the same tab: from the landing page to the dashboard.
            tab.goto(base_url + "/")
            results["same tab"].append(measure(tab))
            # The same, just after a call was tracked: the server recomputes every panel.
            tab.goto(base_url + "/")
            one_event(base_url, key)
            results["same tab, new event"].append(measure(tab))
            # A new tab (a new renderer process).
            page = context.new_page()
            results["new tab"].append(measure(page))
            page.close()
        browser.close()
    return results


def main() -> int:
    args = arguments(__doc__, runs=9).parse_args()

    shared = load_module("llmlab_e2e_conftest", HERE.parent / "conftest.py")  # start_server, as the tests use it
    folder = tempfile.TemporaryDirectory()
    database = args.database_url or f"sqlite://{folder.name}/bench.db"
    server = shared.start_server(database)
    try:
        print(f"server {server.base_url} ({shared.llmlab_bin()}), database {database}", file=sys.stderr)
        if args.reuse_key:
            key = args.reuse_key
        else:
            key = server.signup("bench")
            print(f"key {key} (to measure again: --database-url {database} --reuse-key {key})", file=sys.stderr)
            print(f"loading {args.events:,} events, {BATCH:,} a batch, {args.threads} threads…", file=sys.stderr)
            seconds = load(server.base_url, key, args.events, args.threads, args.days)
            print(f"loaded in {seconds:.1f} s ({args.events / seconds:,.0f} events/s)", file=sys.stderr)
        status, summary = server.request("GET", "/api/costs/summary", key=key)
        assert status == 200, summary
        args.events = summary["all_time_calls"]

        # A new event empties the render cache: the first GET computes every panel from the rollups.
        uncached = []
        for _ in range(5):
            one_event(server.base_url, key)
            uncached.append(timed_get(server.base_url + "/dashboard", key)[0])
        cached = [timed_get(server.base_url + "/dashboard", key)[0] for _ in range(10)]
        _, _, etag = timed_get(server.base_url + "/dashboard/panels", key)
        not_modified = [timed_get(server.base_url + "/dashboard/panels", key, etag) for _ in range(10)]
        assert all(status == 304 for _, status, _ in not_modified), "an unchanged account must get 304"
        browser = browser_runs(server.base_url, key, args.runs)
    finally:
        server.stop()
        folder.cleanup()

    def runs(values: list[float]) -> str:
        return f"median {statistics.median(values):6.1f} ms  (runs: {', '.join(f'{v:.0f}' for v in values)})"

    print(f"\nevents stored: {args.events:,}")
    print("server, GET /dashboard (HTML with every panel):")
    print(f"  after a new event (summary, budget and tips computed):  {runs(uncached)}")
    print(f"  data unchanged (panels rendered for this version):      {runs(cached)}")
    print(f"  GET /dashboard/panels unchanged (the live poll, 304):   {runs([m for m, _, _ in not_modified])}")
    print("browser, navigation → all data rendered:")
    for scenario, values in browser.items():
        print(f"  {scenario + ':':<54} {runs(values)}")
    met = {scenario: statistics.median(values) < GOAL_MS for scenario, values in browser.items()}
    print(f"goal < {GOAL_MS} ms: " + ", ".join(f"{s} {'met' if ok else 'NOT met'}" for s, ok in met.items()))
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
