"""Provider reports in the browser: an OpenAI admin key connected from the
settings page (the page script posts the form), the provider-reported spend it
brings on the dashboard, and the connection tested and removed again.

The server's OpenAI upstream is a local stub of the organization Usage and
Costs APIs: every page it serves holds one UTC day (the first of the range
asked for) with 1,000,000 uncached input tokens of gpt-4o-mini ($0.15 at
LLMLab's price) billed $0.15.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

ADMIN_KEY = "sk-admin-e2eDashboardKey0123456789abcdef"
DAY = 86_400


class AdminApiStub(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if self.headers.get("Authorization") != f"Bearer {ADMIN_KEY}":
            self.answer(401, {"error": {"message": "Invalid admin key", "type": "invalid_request_error"}})
            return
        start = int(query["start_time"][0])
        if url.path == "/v1/organization/usage/completions":
            result: dict[str, Any] = {
                "object": "organization.usage.completions.result",
                "input_tokens": 1_000_000,
                "input_cached_tokens": 0,
                "output_tokens": 0,
                "num_model_requests": 10,
                "model": "gpt-4o-mini-2024-07-18",
                "project_id": "proj_e2e",
                "api_key_id": None,
                "batch": False,
                "service_tier": "default",
            }
        elif url.path == "/v1/organization/costs":
            result = {
                "object": "organization.costs.result",
                "amount": {"value": 0.15, "currency": "usd"},
                "line_item": "gpt-4o-mini-2024-07-18, input",
                "project_id": "proj_e2e",
            }
        else:
            self.answer(404, {"error": {"message": f"no {url.path} here"}})
            return
        bucket = {"object": "bucket", "start_time": start, "end_time": start + DAY, "results": [result]}
        self.answer(200, {"object": "page", "data": [bucket], "has_more": False, "next_page": None})

    def answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def admin_api() -> Iterator[str]:
    stub = ThreadingHTTPServer(("127.0.0.1", 0), AdminApiStub)
    thread = threading.Thread(target=stub.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{stub.server_address[1]}"
    stub.shutdown()


@pytest.fixture
def server(server_factory: Callable[..., Any], admin_api: str) -> Any:
    """A server whose OpenAI upstream is the admin API stub (overrides the shared fixture, so `tab` opens it)."""
    return server_factory(env={"LLMLAB_UPSTREAM_OPENAI": admin_api})


def test_an_admin_key_connected_in_settings_brings_provider_reported_spend_and_is_removed(
    server: Any, tab: Any
) -> None:
    page = tab.page
    key = server.signup("reports")
    page.context.request.post(server.base_url + "/api/auth/session", data={"api_key": key})
    tab.goto("/settings")
    expect(page.locator("#connections-none")).to_have_text("No provider connected yet.")

    form = page.locator("#connect-form")
    form.get_by_label("Provider").select_option("openai")
    form.get_by_label("Admin key").fill("sk-admin-refusedKey0123456789abcdef")
    form.get_by_role("button", name="Connect").click()
    expect(page.locator("#connect-error")).to_contain_text("OpenAI admin key was refused")
    expect(page.locator("#connections-none")).to_be_visible()

    form.get_by_label("Admin key").fill(ADMIN_KEY)
    form.get_by_role("button", name="Connect").click()
    expect(page.locator("#flash")).to_have_text("Connected: the reports are imported.")
    row = page.locator('#connections-table tr[data-provider="openai"]')
    expect(row).to_contain_text("OpenAI")
    hint = row.locator("code.connection-hint")
    expect(hint).not_to_contain_text(ADMIN_KEY, timeout=1_000)
    assert ADMIN_KEY not in page.content(), "the key is never shown again"

    tab.goto("/dashboard")
    reported = page.locator("#reported-models")
    expect(reported).to_contain_text("gpt-4o-mini")
    # One request per report covers the 30 days, so one day of $0.15, billed and at LLMLab's price.
    expect(page.locator("#reported-title").locator("xpath=ancestor::section[1]")).to_contain_text(
        "$0.15 billed · $0.15 at LLMLab's prices"
    )
    expect(page.get_by_text("Provider-reported spend", exact=True)).to_be_visible()

    tab.goto("/settings")
    page.get_by_role("button", name="Test the OpenAI key").click()
    expect(page.locator("#flash")).to_have_text("Key checked: the result is on its row.")
    expect(page.locator('#connections-table tr[data-provider="openai"] .connection-error')).to_have_count(0)
    remove = page.locator('button[data-api="DELETE /api/connections/openai"]')
    expect(remove).to_have_accessible_name("Remove the OpenAI connection")
    remove.click()
    expect(remove).to_have_text("Click again to remove")
    remove.click()
    expect(page.locator("#flash")).to_have_text("Connection removed.")
    expect(page.locator("#connections-none")).to_be_visible()
    tab.assert_clean()
