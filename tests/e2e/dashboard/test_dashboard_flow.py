"""The dashboard's main flow in a real headless Chromium against a real
`llmlab serve`: sign up → empty state → events through the API → totals,
table and chart update without a reload → budget set in settings → the
progress bar reflects it → a key created and revoked → signed out.

Every assertion is on what the page shows.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from dashboard_support import track, usd
from playwright.sync_api import expect

# Live updates poll every 2 s; allow a few rounds.
LIVE = 10_000


def today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


def test_a_new_user_tracks_calls_sets_a_budget_revokes_keys_and_is_signed_out(
    server: Any, tab: Any, screenshots: Path
) -> None:
    page = tab.page

    # The landing page leads to sign-up.
    tab.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Know what every LLM call costs")
    expect(page.get_by_role("heading", name="Quickstart")).to_be_visible()
    expect(page.get_by_text("Budget alerts")).to_be_visible()
    tab.screenshot(screenshots, "landing")
    page.get_by_role("link", name="Create an account").click()

    # Sign up: the key is shown once, then the session cookie signs us in.
    page.get_by_role("button", name="Create an account").click()
    key_box = page.locator("#new-account-key")
    expect(key_box).to_have_text(re.compile(r"^llm_[0-9A-Za-z]{48}$"))
    key = key_box.inner_text()
    tab.click_to_load(page.get_by_role("button", name="I saved it: open the dashboard"))

    # The empty state shows how to start.
    expect(page.get_by_role("heading", name="No calls tracked yet")).to_be_visible()
    expect(page.locator("#empty-snippet")).to_contain_text('@track_cost(provider="openai")')
    expect(page.locator("#empty-setup")).to_contain_text("llmlab init")
    expect(page.locator("#empty-curl")).to_contain_text(f"{server.base_url}/api/events/track")
    tab.screenshot(screenshots, "empty-state")

    # Events arrive through the API; the page updates by itself.
    page.evaluate("window.__sameDocument = true")
    first = track(
        server,
        key,
        [
            {"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 2_000_000, "output_tokens": 1_000_000},
            {"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1_000_000, "output_tokens": 500_000},
            {"provider": "anthropic", "model": "claude-sonnet-4-5", "input_tokens": 100_000, "output_tokens": 20_000},
        ],
    )
    assert first > 0
    expect(page.locator("#total-today")).to_have_text(usd(first), timeout=LIVE)
    expect(page.locator("#total-month")).to_have_text(usd(first))
    expect(page.locator("#total-all")).to_have_text(usd(first))
    expect(page.locator("#total-all-calls")).to_have_text("3 calls")
    rows = page.locator("#models-table tbody tr")
    expect(rows).to_have_count(2)
    mini = page.locator('#models-table tr[data-model="gpt-4o-mini"]')
    expect(mini.locator("td").first).to_have_text("2")
    expect(page.locator("#trend-total")).to_have_text(usd(first))
    today_bar = page.locator(f'#trend-chart rect[data-date="{today()}"]')
    expect(today_bar).to_have_attribute("height", "1000")
    expect(page.get_by_role("heading", name="No calls tracked yet")).to_have_count(0)

    # More events: the numbers move again, still without a reload.
    second = track(
        server, key, [{"provider": "openai", "model": "gpt-4o", "input_tokens": 100_000, "output_tokens": 10_000}]
    )
    total = first + second
    expect(page.locator("#total-today")).to_have_text(usd(total), timeout=LIVE)
    expect(rows).to_have_count(3)
    expect(page.locator("#trend-chart")).to_have_attribute("data-total-usd", re.compile(r"^\d"))
    assert Decimal(page.locator("#trend-chart").get_attribute("data-total-usd")) == total
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    expect(page.locator("#live-status")).to_contain_text("Live")
    tab.screenshot(screenshots, "dashboard")

    # A budget set in settings: 90% used, so the bar is amber.
    page.get_by_role("link", name="Settings", exact=True).click()
    page.wait_for_url("**/settings")
    tab.wait_rendered()
    expect(page.locator("#budget-current")).to_have_text("No monthly budget is set for the account.")
    budget = (total / Decimal("0.9")).quantize(Decimal("0.01"))
    page.get_by_label("Amount in USD per month").fill(f"${budget}")
    page.get_by_role("button", name="Save budget").click()
    expect(page.locator("#flash")).to_have_text("Budget saved.")
    expect(page.locator("#budget-current")).to_contain_text(usd(budget))
    tab.screenshot(screenshots, "settings")

    page.get_by_role("link", name="Dashboard", exact=True).click()
    page.wait_for_url("**/dashboard")
    tab.wait_rendered()
    bar = page.get_by_role("progressbar", name="Monthly budget · whole account")
    expect(bar).to_have_attribute("aria-valuenow", re.compile(r"^(89|90)$"))
    expect(page.locator("[data-budget-state]")).to_have_attribute("data-budget-state", "warning")
    expect(page.locator(".budget-state")).to_have_text("80% used")
    expect(page.locator(".budget-amount")).to_have_text(usd(budget))
    expect(bar.locator("rect")).to_have_class(re.compile("fill-amber-500"))
    tab.screenshot(screenshots, "budget-warning")

    # Over budget, live: the bar turns red.
    page.evaluate("window.__sameDocument = true")
    track(server, key, [{"provider": "openai", "model": "gpt-4o", "input_tokens": 1_000_000, "output_tokens": 100_000}])
    expect(page.locator("[data-budget-state]")).to_have_attribute("data-budget-state", "exceeded", timeout=LIVE)
    expect(page.locator(".budget-state")).to_have_text("Over budget")
    expect(bar).to_have_attribute("aria-valuenow", "100")
    expect(bar.locator("rect")).to_have_class(re.compile("fill-red-600"))
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    tab.screenshot(screenshots, "budget-exceeded")

    # The budget removed in settings: two clicks, and there is none.
    page.get_by_role("link", name="Settings", exact=True).click()
    page.wait_for_url("**/settings")
    tab.wait_rendered()
    remove = page.locator("#budget-remove")
    expect(remove).to_have_accessible_name("Remove the budget")
    remove.click()
    expect(remove).to_have_text("Click again to remove")
    remove.click()
    expect(page.locator("#flash")).to_have_text("Budget removed.")
    expect(page.locator("#budget-current")).to_have_text("No monthly budget is set for the account.")
    assert server.request("GET", "/api/budgets/status", key=key)[1]["state"] == "none"

    # A second key: shown once, works, then revoked.
    page.get_by_label("Name of the new key").fill("ci runner")
    page.get_by_role("button", name="Create key").click()
    new_key = page.locator("#new-key-value")
    expect(new_key).to_have_text(re.compile(r"^llm_[0-9A-Za-z]{48}$"))
    second_key = new_key.inner_text()
    assert server.request("GET", "/api/account", key=second_key)[0] == 200
    row = page.locator(f'#keys-table tr[data-key-id="{second_key[:12]}"]')
    expect(row.locator(".key-status")).to_have_text("Active")
    revoke = row.locator("button[data-api]")
    expect(revoke).to_have_accessible_name("Revoke key ci runner (" + second_key[:12] + ")")
    revoke.click()
    expect(revoke).to_have_text("Click again to revoke")
    revoke.click()
    expect(page.locator("#flash")).to_have_text("Key revoked.")
    expect(row.locator(".key-status")).to_have_text("Revoked")
    assert server.request("GET", "/api/account", key=second_key)[0] == 401

    # Revoking the key of this session signs the dashboard out.
    current = page.locator(f'#keys-table tr[data-key-id="{key[:12]}"]')
    expect(current).to_contain_text("this session")
    current.locator("button[data-api]").click()
    current.get_by_role("button", name="Click again to revoke").click()
    expect(page).to_have_url(f"{server.base_url}/dashboard")
    expect(page.get_by_role("heading", name="Sign in to your dashboard")).to_be_visible()
    expect(page.locator("#session-ended")).to_contain_text("You were signed out")
    assert not [c for c in page.context.cookies() if c["name"] == "llmlab_session" and c["value"]]
    assert server.request("GET", "/api/account", key=key)[0] == 401
    tab.screenshot(screenshots, "signed-out")
    tab.assert_clean()


def test_signing_in_with_a_pasted_key_and_out_with_the_button(server: Any, tab: Any) -> None:
    page = tab.page
    key = server.signup()
    tab.goto("/dashboard")

    page.get_by_label("API key", exact=True).fill("llm_" + "x" * 48)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-error")).to_have_text("This API key is not valid, or it was revoked.")
    expect(page.get_by_label("API key", exact=True)).to_have_attribute("aria-invalid", "true")

    page.get_by_label("API key", exact=True).fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    # The key is in an HttpOnly cookie only: not readable by scripts, not in the URL, not in storage.
    assert key not in page.evaluate("document.cookie")
    assert key not in page.url
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    assert key not in page.content()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to your dashboard")).to_be_visible()
    expect(page.locator("#session-ended")).to_have_count(0)
    assert page.request.get(server.base_url + "/dashboard/panels").status == 401
    tab.goto("/settings")
    expect(page.get_by_role("heading", name="Sign in to your dashboard")).to_be_visible()
    tab.assert_clean()


def test_an_unpriced_model_is_shown_with_its_fix_and_priced_from_settings(server: Any, tab: Any) -> None:
    page = tab.page
    key = server.signup()
    track(
        server,
        key,
        [{"provider": "acme", "model": "acme-large", "input_tokens": 1_000_000, "output_tokens": 1_000_000}],
    )
    page.context.request.post(server.base_url + "/api/auth/session", data={"api_key": key})
    tab.goto("/dashboard")

    unpriced = page.locator('[data-panel="unpriced"]')
    expect(unpriced.locator("#unpriced-calls")).to_have_text("1 call")
    expect(unpriced).to_contain_text("acme-large")
    expect(unpriced).to_contain_text("llmlab prices set acme-large --provider acme --input USD_PER_1M")
    expect(page.locator("#total-all")).to_have_text("$0.00")
    unpriced.get_by_role("link", name=re.compile("Add a price in Settings")).click()
    page.wait_for_url("**/settings?model=*")
    tab.wait_rendered()

    expect(page.get_by_label("Model")).to_have_value("acme-large")
    # The settings page has two Provider fields (the price's and the connection form's).
    expect(page.locator("#price-provider")).to_have_value("acme")
    page.get_by_label("Input", exact=True).fill("1")
    page.get_by_label("Output", exact=True).fill("3")
    page.get_by_role("button", name="Save price").click()
    expect(page.locator("#flash")).to_have_text("Price saved. 1 earlier call is now priced.")
    expect(page.locator('#prices-table tr[data-model="acme-large"]')).to_contain_text("$3")

    page.get_by_role("link", name="Dashboard", exact=True).click()
    page.wait_for_url("**/dashboard")
    tab.wait_rendered()
    expect(page.locator("#total-all")).to_have_text("$4.00")
    expect(page.locator('[data-panel="unpriced"]')).to_have_count(0)
    tab.assert_clean()


def test_signing_in_works_without_javascript_and_never_puts_the_key_in_a_url(
    server: Any, browser: Any, screenshots: Path
) -> None:
    key = server.signup()
    track(server, key, [{"provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1_000_000, "output_tokens": 0}])
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    try:
        page.goto(server.base_url + "/settings")
        page.get_by_label("API key", exact=True).fill("llm_" + "0" * 48)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#signin-error")).to_have_text("This API key is not valid, or it was revoked.")
        page.get_by_label("API key", exact=True).fill(key)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(server.base_url + "/settings")
        expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
        page.goto(server.base_url + "/dashboard")
        expect(page.locator("#total-all")).to_have_text("$0.15")
        assert not [u for u in urls if key in u or "api_key" in u], urls
    finally:
        context.close()
