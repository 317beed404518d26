"""User-supplied strings are text, never markup; the pages send security headers."""

from __future__ import annotations

import http.server
import re
import threading
import urllib.request
from pathlib import Path
from typing import Any

from dashboard_support import HOSTILE, track
from playwright.sync_api import expect

LIVE = 10_000
HOSTILE_PROJECT = "<script>alert(2)</script>"
HOSTILE_TAG = '"><svg onload=alert(3)>'

# Set before any page script: an alert, or an image that tries to load, is recorded.
TRAP = """
const SUSPECT = 'img, iframe, object, embed, script:not([src])';
window.__ran = [];
window.alert = (message) => window.__ran.push(String(message));
new MutationObserver((records) => {
  for (const r of records) for (const n of r.addedNodes)
    if (n.nodeType === 1 && (n.matches(SUSPECT) || n.querySelector(SUSPECT)))
      window.__ran.push('element added: ' + n.outerHTML.slice(0, 80));
}).observe(document, { childList: true, subtree: true });
"""


def hostile_event(**extra: Any) -> dict[str, Any]:
    return {
        "provider": "openai",
        "model": HOSTILE,
        "project": HOSTILE_PROJECT,
        "tags": {"x": HOSTILE_TAG},
        "input_tokens": 1000,
        "output_tokens": 100,
        **extra,
    }


def test_a_model_named_like_an_html_tag_renders_as_text_and_runs_nothing(
    server: Any, tab: Any, screenshots: Path
) -> None:
    page = tab.page
    key = server.signup()
    track(
        server,
        key,
        [hostile_event(), {"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 10, "output_tokens": 1}],
    )
    page.add_init_script(TRAP)
    tab.goto("/dashboard")
    page.get_by_label("API key", exact=True).fill(key)
    tab.click_to_load(page.get_by_role("button", name="Sign in"))

    # The name is shown, as text, in the table and in the unpriced panel.
    expect(page.locator(".model-name", has_text=HOSTILE)).to_have_count(2)
    expect(page.locator('[data-panel="breakdown"]')).to_contain_text(HOSTILE_PROJECT)
    expect(page.locator('[data-panel="unpriced"]')).to_contain_text(f"llmlab prices set '{HOSTILE}'")
    assert page.locator("img, main script, iframe").count() == 0

    # Arriving through a live update (server HTML swapped in by the script) changes nothing.
    track(server, key, [hostile_event(model=HOSTILE + " v2", event_id="hostile-2")])
    expect(page.locator(".model-name", has_text=HOSTILE + " v2")).to_have_count(2, timeout=LIVE)
    assert page.locator("img, main script, iframe").count() == 0
    tab.screenshot(screenshots, "hostile-names")

    # In settings: the price form is pre-filled with it, and its price can be saved and removed.
    page.locator('[data-panel="unpriced"] li', has_text=HOSTILE + " v2").get_by_role("link").click()
    page.wait_for_url("**/settings?model=*")
    tab.wait_rendered()
    expect(page.get_by_label("Model")).to_have_value(HOSTILE + " v2")
    page.get_by_label("Input", exact=True).fill("2")
    page.get_by_label("Output", exact=True).fill("4")
    page.get_by_role("button", name="Save price").click()
    row = page.locator("#prices-table tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator(".model-name")).to_have_text(HOSTILE + " v2")
    expect(page.locator("#projects-table")).to_contain_text(HOSTILE_PROJECT)
    row.get_by_role("button", name=re.compile("^Remove")).click()
    row.get_by_role("button", name="Click again to remove").click()
    expect(page.locator("#flash")).to_have_text("Price removed.")
    expect(page.locator("#prices-table")).to_have_count(0)

    assert page.evaluate("window.__ran") == []
    assert page.locator("img, main script, iframe").count() == 0
    tab.assert_clean()


def test_pages_send_a_strict_content_security_policy_and_no_sniff(server: Any) -> None:
    key = server.signup()

    def get(path: str, cookie: str | None = None) -> tuple[Any, str]:
        request = urllib.request.Request(server.base_url + path)
        if cookie:
            request.add_header("cookie", f"llmlab_session={cookie}")
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.headers, response.read().decode()

    for path, cookie in [("/", None), ("/dashboard", None), ("/dashboard", key), ("/settings", key)]:
        headers, body = get(path, cookie)
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp, (path, csp)
        assert "unsafe-inline" not in csp, (path, csp)
        assert "unsafe-eval" not in csp, (path, csp)
        assert "frame-ancestors 'none'" in csp, (path, csp)
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["cache-control"] == "no-store", path
        # No inline script or style anywhere: every <script> has a src, no style attributes.
        assert not re.search(r"<script(?![^>]*\bsrc=)", body), path
        assert not re.search(r"\sstyle=", body), path
        assert key not in body, f"{path} shows the session's key"

    # Assets are embedded, versioned and cacheable; nothing comes from another origin.
    _, body = get("/")
    urls = re.findall(r'(?:href|src)="([^"]+)"', body)
    assert all(u.startswith(("/", "#")) for u in urls), urls
    script = next(u for u in urls if u.startswith("/ui/app.js?v="))
    headers, _ = get(script)
    assert headers["content-type"].startswith("text/javascript")
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    assert headers["x-content-type-options"] == "nosniff"


class _ElsewherePage(http.server.BaseHTTPRequestHandler):
    """Another app on this host: one empty page."""

    def do_GET(self) -> None:
        body = b"<!doctype html><title>elsewhere</title>"
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


def test_a_page_on_another_port_cannot_change_the_account_with_the_session_cookie(server: Any, tab: Any) -> None:
    """`SameSite=Strict` does not tell ports apart, so Chromium sends the session cookie with a
    request from another app on this host; the server refuses the write (403 `cross_site_request`)."""
    page = tab.page
    key = server.signup()
    tab.goto("/dashboard")
    page.get_by_label("API key", exact=True).fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    other_app = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ElsewherePage)
    threading.Thread(target=other_app.serve_forever, daemon=True).start()
    elsewhere = f"http://127.0.0.1:{other_app.server_address[1]}"

    try:
        page.goto(f"{elsewhere}/")
        with page.expect_response(f"{server.base_url}/api/budgets") as answer:
            page.evaluate(
                # A Blob without a type sends no Content-Type. The request goes out; Chromium then keeps
                # the JSON answer from the page (ORB), so the fetch itself fails.
                """(url) => fetch(url, { method: 'POST', credentials: 'include', mode: 'no-cors',
                                         body: new Blob(['{"amount_usd": "1"}']) }).catch(() => null)""",
                f"{server.base_url}/api/budgets",
            )
    finally:
        other_app.shutdown()

    # 403 (`cross_site_request`; the body is hidden from the page), not 401 `missing_api_key`:
    # Chromium did send the cookie, so the attack is real.
    assert answer.value.status == 403
    status, body = server.request("GET", "/api/budgets", key=key)
    assert (status, body["budget"]) == (200, None)
