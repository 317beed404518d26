"""Failure behaviour of the sender; in every case the tracked function is unaffected."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

import llmlab
from conftest import FAST_TRANSPORT, reset_runtime
from llmlab import BudgetWarning, track_cost
from llmlab._runtime import RUNTIME
from llmlab._sender import parse_retry_after
from llmlab._worker import Worker
from support.fake_llmlab import FakeLLMLab, Scripted

SDK_SRC = Path(__file__).resolve().parents[2] / "src"


def response(i: int) -> dict[str, Any]:
    return {
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "usage": {"prompt_tokens": i, "completion_tokens": 1},
    }


@track_cost(provider="openai")
def ask(i: int) -> dict[str, Any]:
    return response(i)


def transport() -> Worker:
    t = RUNTIME.get_transport()
    assert t is not None
    return t


def configure(server: FakeLLMLab, spool: Path, **transport_opts: Any) -> None:
    llmlab.configure(
        api_key=server.api_key,
        base_url=server.url,
        spool_dir=str(spool),
        transport={**FAST_TRANSPORT, **transport_opts},
    )


def assert_exactly_once(server: FakeLLMLab, expected: set[int]) -> None:
    events = server.event_list()
    assert sorted(e["usage"]["prompt_tokens"] for e in events) == sorted(expected)
    assert all(n == 1 for n in server.receipts.values()), server.receipts


def test_server_down_for_the_whole_run_then_back_delivers_every_event_exactly_once(
    fake_server: FakeLLMLab, isolated_llmlab: Path
) -> None:
    fake_server.stop()  # the port stays ours; nothing listens on it
    configure(fake_server, isolated_llmlab)
    for i in range(25):
        assert ask(i) == response(i)
    assert llmlab.flush(5) == 0  # delivered or spooled: nothing left in memory
    assert transport().spool.pending_events() == 25
    assert fake_server.event_list() == []

    # "Restart": a new process would build a new transport that finds the spool.
    reset_runtime()
    fake_server.start()
    configure(fake_server, isolated_llmlab)
    for i in range(25, 30):
        assert ask(i) == response(i)
    assert llmlab.flush(5) == 0
    assert transport().spool.pending_events() == 0
    assert_exactly_once(fake_server, set(range(30)))


def test_flush_alone_in_a_new_process_hands_over_the_last_runs_spool(
    fake_server: FakeLLMLab, isolated_llmlab: Path
) -> None:
    fake_server.stop()
    configure(fake_server, isolated_llmlab)
    for i in range(3):
        ask(i)
    assert llmlab.flush(5) == 0
    reset_runtime()  # "restart", and this time track nothing new
    fake_server.start()
    configure(fake_server, isolated_llmlab)
    assert llmlab.flush(5) == 0
    assert_exactly_once(fake_server, {0, 1, 2})


def test_the_same_transport_recovers_and_resends_its_spool(
    fake_server: FakeLLMLab, isolated_llmlab: Path
) -> None:
    fake_server.stop()
    configure(fake_server, isolated_llmlab)
    for i in range(5):
        ask(i)
    assert llmlab.flush(5) == 0
    assert transport().spool.pending_events() == 5
    fake_server.start()
    ask(5)
    assert llmlab.flush(5) == 0
    assert transport().spool.pending_events() == 0
    assert_exactly_once(fake_server, set(range(6)))


def test_server_answering_500_is_retried_with_the_same_event_ids(tracking: FakeLLMLab) -> None:
    tracking.script = [Scripted(500, {"error": {"code": "internal", "message": "x"}})] * 2
    assert ask(1) == response(1)
    assert llmlab.flush(5) == 0
    assert [r["status"] for r in tracking.requests] == [500, 500, 201]
    assert_exactly_once(tracking, {1})
    assert transport().spool.pending_events() == 0


def test_retries_exhausted_spool_the_batch_and_a_later_flush_delivers_it(
    tracking: FakeLLMLab,
) -> None:
    # max_retries=2: three failures exhaust the batch, the fourth fails flush's one probe.
    tracking.script = [Scripted(503)] * 4
    ask(1)
    assert llmlab.flush(5) == 0
    assert transport().spool.pending_events() == 1
    time.sleep(0.6)  # past the backoff
    assert llmlab.flush(5) == 0
    assert transport().spool.pending_events() == 0
    assert_exactly_once(tracking, {1})


def test_429_retry_after_is_honoured(tracking: FakeLLMLab) -> None:
    tracking.script = [Scripted(429, None, {"Retry-After": "0.3"})]
    ask(1)
    deadline = time.monotonic() + 5
    while len(tracking.event_list()) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    first, second = tracking.requests[:2]
    assert first["status"] == 429
    assert second["at"] - first["at"] >= 0.29
    assert_exactly_once(tracking, {1})


def test_a_long_retry_after_spools_and_is_honoured_even_by_flush(
    fake_server: FakeLLMLab, isolated_llmlab: Path
) -> None:
    configure(fake_server, isolated_llmlab, backoff_max=0.2)
    fake_server.script = [Scripted(429, None, {"Retry-After": "2"})]
    ask(1)
    assert llmlab.flush(5) == 0
    assert transport().spool.pending_events() == 1
    ask(2)
    assert llmlab.flush(5) == 0  # inside the Retry-After window: straight to the spool
    assert len(fake_server.requests) == 1
    time.sleep(2.05)
    assert llmlab.flush(5) == 0
    assert_exactly_once(fake_server, {1, 2})


def test_queue_full_drops_and_counts_without_blocking(
    fake_server: FakeLLMLab, isolated_llmlab: Path
) -> None:
    configure(fake_server, isolated_llmlab, max_queue=5, batch_size=1)
    fake_server.hang.set()  # the worker's first request blocks
    started = time.perf_counter()
    results = [ask(i) for i in range(20)]
    elapsed = time.perf_counter() - started
    assert results == [response(i) for i in range(20)]
    assert elapsed < 2.0  # never blocked on the full queue (a blocked put would hang here)
    t = transport()
    assert t.dropped >= 14
    fake_server.hang.clear()
    assert llmlab.flush(5) == 0
    assert len(fake_server.event_list()) + t.dropped == 20


def test_flush_returns_how_many_events_are_still_pending(
    fake_server: FakeLLMLab, isolated_llmlab: Path
) -> None:
    configure(fake_server, isolated_llmlab, batch_size=1)
    fake_server.hang.set()
    for i in range(3):
        ask(i)
    assert llmlab.flush(0.2) >= 2
    fake_server.hang.clear()
    assert llmlab.flush(5) == 0


def test_worker_thread_failing_to_start_changes_nothing_for_the_caller(
    tracking: FakeLLMLab, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    original = threading.Thread.start

    def start(self: threading.Thread) -> None:
        if self.name == "llmlab-transport":
            raise RuntimeError("can't start new thread")
        original(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    caplog.set_level(logging.WARNING, logger="llmlab")
    assert [ask(i) for i in range(3)] == [response(i) for i in range(3)]
    assert transport()._thread is None
    assert len([r for r in caplog.records if "background sender" in r.getMessage()]) == 1
    assert llmlab.flush(5) == 0  # delivered on the caller's thread instead
    assert_exactly_once(tracking, {0, 1, 2})


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_fork_child_gets_its_own_sender_and_nothing_is_sent_twice(tracking: FakeLLMLab) -> None:
    for i in range(3):
        ask(i)  # queued (maybe in flight) in the parent at fork time
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            if ask(100) == response(100) and llmlab.flush(5) == 0:
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    ask(3)
    assert llmlab.flush(5) == 0
    assert_exactly_once(tracking, {0, 1, 2, 3, 100})


def test_401_is_dropped_and_logged_once_without_retry(
    tracking: FakeLLMLab, caplog: pytest.LogCaptureFixture
) -> None:
    tracking.api_key = "llm_other"
    caplog.set_level(logging.WARNING, logger="llmlab")
    ask(1)
    assert llmlab.flush(5) == 0
    ask(2)
    assert llmlab.flush(5) == 0
    assert [r["status"] for r in tracking.requests] == [401, 401]
    assert len([r for r in caplog.records if "rejected the API key" in r.getMessage()]) == 1
    assert transport().spool.pending_events() == 0


def test_422_drops_only_the_invalid_event(
    fake_server: FakeLLMLab, isolated_llmlab: Path, caplog: pytest.LogCaptureFixture
) -> None:
    configure(fake_server, isolated_llmlab, flush_interval=10)  # one batch, sent by flush
    caplog.set_level(logging.WARNING, logger="llmlab")
    for i in range(4):
        ask(i)
    with llmlab.track(provider="openai") as t:
        t.record(model="reject-me", input_tokens=1, output_tokens=1)
    assert llmlab.flush(5) == 0
    assert_exactly_once(fake_server, {0, 1, 2, 3})
    assert transport().spool.pending_events() == 0
    assert transport().rejected == 1
    assert len([r for r in caplog.records if "refused an event" in r.getMessage()]) == 1


def test_413_splits_the_batch(fake_server: FakeLLMLab, isolated_llmlab: Path) -> None:
    configure(fake_server, isolated_llmlab, flush_interval=10)
    fake_server.max_events_per_batch = 2
    for i in range(7):
        ask(i)
    assert llmlab.flush(5) == 0
    assert_exactly_once(fake_server, set(range(7)))


def test_budget_warning_and_callback_once_per_threshold_per_period(
    fake_server: FakeLLMLab, isolated_llmlab: Path
) -> None:
    alerts: list[dict[str, Any]] = []
    configure(fake_server, isolated_llmlab)
    llmlab.configure(on_budget_alert=alerts.append)
    budget = {"amount_usd": "500", "spent_usd": "410", "percent_used": 82.0, "period": "monthly"}
    with pytest.warns(BudgetWarning) as caught:
        fake_server.budget = {**budget, "state": "warning", "period_start": "2026-11-01"}
        for i in range(3):
            ask(i)
            llmlab.flush(5)
        fake_server.budget = {**budget, "state": "exceeded", "period_start": "2026-11-01"}
        ask(3)
        llmlab.flush(5)
        ask(4)
        llmlab.flush(5)
        fake_server.budget = {**budget, "state": "warning", "period_start": "2026-12-01"}
        ask(5)
        llmlab.flush(5)
    messages = [str(w.message) for w in caught if w.category is BudgetWarning]
    assert len(messages) == 3
    assert "warning" in messages[0] and "82%" in messages[0]
    assert "exceeded" in messages[1]
    assert [a["state"] for a in alerts] == ["warning", "exceeded", "warning"]


def test_a_failing_budget_callback_does_not_stop_delivery(
    fake_server: FakeLLMLab, isolated_llmlab: Path
) -> None:
    def callback(_: dict[str, Any]) -> None:
        raise ValueError("user bug")

    configure(fake_server, isolated_llmlab)
    llmlab.configure(on_budget_alert=callback)
    fake_server.budget = {"state": "exceeded", "period_start": "2026-11-01"}
    with pytest.warns(BudgetWarning):
        ask(1)
        assert llmlab.flush(5) == 0
    ask(2)
    assert llmlab.flush(5) == 0
    assert_exactly_once(fake_server, {1, 2})


@pytest.mark.allow_internal_errors
def test_internal_errors_never_reach_the_caller(
    tracking: FakeLLMLab, monkeypatch: pytest.MonkeyPatch, internal_errors: list[BaseException]
) -> None:
    class Weird:
        model = "m"

        @property
        def usage(self) -> Any:
            raise RuntimeError("extractor bug")

    weird = Weird()

    @track_cost
    def call() -> Weird:
        return weird

    assert call() is weird
    assert any("extractor bug" in str(e) for e in internal_errors)


def test_retry_after_parsing() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("garbage") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past


def _run_script(
    body: str, env: dict[str, str], timeout: float = 20
) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(SDK_SRC), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


SCRIPT = """
    import time
    import llmlab

    @llmlab.track_cost(provider="openai")
    def ask():
        return {"object": "chat.completion", "model": "gpt-4o-mini",
                "usage": {"prompt_tokens": 7, "completion_tokens": 1}}

    ask()
    started = time.monotonic()
"""


def test_atexit_flush_delivers_queued_events(
    fake_server: FakeLLMLab, isolated_llmlab: Path
) -> None:
    result = _run_script(
        SCRIPT,
        {
            "LLMLAB_API_KEY": fake_server.api_key,
            "LLMLAB_BASE_URL": fake_server.url,
            "LLMLAB_SPOOL_DIR": str(isolated_llmlab),
        },
    )
    assert result.returncode == 0, result.stderr
    assert [e["usage"]["prompt_tokens"] for e in fake_server.event_list()] == [7]
    assert result.stderr == ""


def test_atexit_with_the_server_down_is_capped_and_spools(
    fake_server: FakeLLMLab, isolated_llmlab: Path
) -> None:
    fake_server.stop()
    started = time.monotonic()
    result = _run_script(
        SCRIPT,
        {
            "LLMLAB_API_KEY": fake_server.api_key,
            "LLMLAB_BASE_URL": fake_server.url,
            "LLMLAB_SPOOL_DIR": str(isolated_llmlab),
        },
    )
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 10
    files = list(isolated_llmlab.glob("*.json"))
    assert len(files) == 1
    [event] = json.loads(files[0].read_text())["events"]
    assert event["usage"] == {"prompt_tokens": 7, "completion_tokens": 1}
