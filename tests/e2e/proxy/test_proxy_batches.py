"""Batch results through `llmlab serve`'s proxy with the official clients.

A small stub upstream serves a batch object and its results from ``fixtures/batch/``: the
OpenAI client downloads the output file (``client.files.content``), the Anthropic client the
results (``client.messages.batches.results``, which follows the batch's ``results_url``). Each
is downloaded twice; every billed line is recorded once, and the totals are those worked out in
``fixtures/batch/README.md``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import pytest
from proxy_support import FIXTURES_DIR, api_get, wait_for_events

OPENAI_OUTPUT = (FIXTURES_DIR / "batch" / "openai_batch_output.jsonl").read_bytes()
ANTHROPIC_RESULTS = (FIXTURES_DIR / "batch" / "anthropic_batch_results.jsonl").read_bytes()
INPUT_FILE = (
    b'{"custom_id":"request-1","method":"POST","url":"/v1/chat/completions",'
    b'"body":{"model":"gpt-4o-mini","messages":[]}}\n'
)


class BatchStub(ThreadingHTTPServer):
    """The provider side of a finished batch, for both providers."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.paths: list[str] = []


class _Handler(BaseHTTPRequestHandler):
    server: BatchStub

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        routes: dict[str, tuple[str, bytes]] = {
            "/v1/batches/batch_abc": ("application/json", json.dumps(_openai_batch()).encode()),
            "/v1/files/file-out/content": ("application/octet-stream", OPENAI_OUTPUT),
            "/v1/files/file-input/content": ("application/octet-stream", INPUT_FILE),
            "/v1/messages/batches/msgbatch_01": (
                "application/json",
                json.dumps(_anthropic_batch(self.server.url)).encode(),
            ),
            "/v1/messages/batches/msgbatch_01/results": ("application/binary", ANTHROPIC_RESULTS),
        }
        found = routes.get(self.path.split("?")[0])
        if found is None:
            self.send_error(404)
            return
        content_type, body = found
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _openai_batch() -> dict[str, Any]:
    return {
        "id": "batch_abc",
        "object": "batch",
        "endpoint": "/v1/chat/completions",
        "errors": None,
        "input_file_id": "file-input",
        "completion_window": "24h",
        "status": "completed",
        "output_file_id": "file-out",
        "error_file_id": None,
        "created_at": 1796590000,
        "completed_at": 1796600100,
        "request_counts": {"total": 4, "completed": 3, "failed": 1},
    }


def _anthropic_batch(stub_url: str) -> dict[str, Any]:
    return {
        "id": "msgbatch_01",
        "type": "message_batch",
        "processing_status": "ended",
        "request_counts": {"processing": 0, "succeeded": 2, "errored": 1, "canceled": 0, "expired": 1},
        "created_at": "2026-12-06T09:00:00Z",
        "ended_at": "2026-12-06T10:00:00Z",
        "expires_at": "2026-12-07T09:00:00Z",
        "archived_at": None,
        "cancel_initiated_at": None,
        # Like Anthropic's own: an absolute URL on the upstream.
        "results_url": f"{stub_url}/v1/messages/batches/msgbatch_01/results",
    }


@pytest.fixture
def stub() -> Iterator[BatchStub]:
    server = BatchStub()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(server_factory: Callable[..., Any], stub: BatchStub) -> Any:
    return server_factory(env={"LLMLAB_UPSTREAM_OPENAI": stub.url, "LLMLAB_UPSTREAM_ANTHROPIC": stub.url})


def _total(proxy: Any, key: str) -> Decimal:
    summary = json.loads(api_get(proxy.base_url, "/api/costs/summary", key))
    return Decimal(summary["all_time_usd"])


def test_openai_batch_output_downloaded_twice_is_recorded_once(proxy: Any, stub: BatchStub) -> None:
    import openai

    key = proxy.signup()
    client = openai.OpenAI(
        api_key="sk-provider-test",
        base_url=f"{proxy.base_url}/proxy/openai/v1",
        default_headers={"X-LLMLab-Key": key, "X-LLMLab-Project": "nightly"},
        max_retries=0,
    )

    batch = client.batches.retrieve("batch_abc")
    assert batch.output_file_id == "file-out"
    for _ in range(2):
        assert client.files.content(batch.output_file_id).content == OPENAI_OUTPUT
    # A batch's input file is not results: it passes through and records nothing.
    assert client.files.content("file-input").content == INPUT_FILE

    events = wait_for_events(proxy.base_url, key, 3)
    time.sleep(0.3)
    events = wait_for_events(proxy.base_url, key, 3)
    assert _total(proxy, key) == Decimal("0.0026925")
    assert sorted(e["event_id"] for e in events) == [f"batch:openai:file-out:request-{i}" for i in (1, 2, 3)]
    for event in events:
        assert (event["project"], event["service_tier"]) == ("nightly", "batch"), event
        assert json.loads(event["tags"]) == {"batch_id": "batch_abc"}, event
    assert stub.paths.count("/v1/files/file-out/content") == 2


def test_anthropic_batch_results_downloaded_twice_are_recorded_once(proxy: Any, stub: BatchStub) -> None:
    import anthropic

    key = proxy.signup()
    client = anthropic.Anthropic(
        api_key="sk-ant-provider-test",
        base_url=f"{proxy.base_url}/proxy/anthropic",
        default_headers={"X-LLMLab-Key": key},
        max_retries=0,
    )

    for _ in range(2):
        results = list(client.messages.batches.results("msgbatch_01"))
        assert [r.result.type for r in results] == ["succeeded", "succeeded", "errored", "expired"]

    events = wait_for_events(proxy.base_url, key, 2)
    time.sleep(0.3)
    events = wait_for_events(proxy.base_url, key, 2)
    assert _total(proxy, key) == Decimal("0.0017")
    assert sorted(e["event_id"] for e in events) == [
        "batch:anthropic:msgbatch_01:request-1",
        "batch:anthropic:msgbatch_01:request-2",
    ]
    for event in events:
        assert json.loads(event["tags"]) == {"batch_id": "msgbatch_01"}, event
        # Recorded when the batch ended, as its object said.
        assert event["timestamp"].startswith("2026-12-06T10:00:00"), event
    # Recorded, so the client followed the rewritten `results_url` through the proxy.
    assert stub.paths.count("/v1/messages/batches/msgbatch_01/results") == 2
