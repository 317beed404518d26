"""Accessibility: axe-core (WCAG 2.1 A and AA: labels, contrast, ARIA, landmarks)
finds nothing on any page, and the dashboard works from the keyboard alone."""

from __future__ import annotations

from typing import Any

import pytest
from dashboard_support import HOSTILE, track
from playwright.sync_api import expect

AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def axe_violations(page: Any) -> list[str]:
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        pytest.fail("axe-playwright-python is not installed (`pip install -r tests/e2e/requirements.txt`)")
    # Open every disclosure, so what is behind it is checked too.
    page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")
    results = Axe().run(page, options=AXE_OPTIONS)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
    ]


def test_every_page_passes_axe_at_desktop_and_phone_width(server: Any, tab: Any) -> None:
    page = tab.page
    key = server.signup()
    pages = ["/", "/dashboard"]
    for path in pages:
        tab.goto(path)
        assert axe_violations(page) == [], path

    page.context.request.post(server.base_url + "/api/auth/session", data={"api_key": key})
    tab.goto("/dashboard")  # the empty state
    assert axe_violations(page) == [], "empty state"

    track(
        server,
        key,
        [
            {"provider": "openai", "model": "gpt-4o", "input_tokens": 3_000_000, "output_tokens": 200_000},
            {
                "provider": "anthropic",
                "model": "claude-sonnet-4-5",
                "input_tokens": 2_000_000,
                "output_tokens": 100_000,
            },
            {"provider": "other", "model": HOSTILE, "input_tokens": 10, "output_tokens": 10},
        ],
    )
    server.request("POST", "/api/budgets", {"amount_usd": "10"}, key=key)
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 900})
        for path in ["/dashboard", "/settings"]:
            tab.goto(path)
            assert axe_violations(page) == [], f"{path} at {width} px"
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (
                f"{path} scrolls sideways at {width} px"
            )
    tab.assert_clean()


def test_the_dashboard_works_from_the_keyboard(server: Any, tab: Any) -> None:
    page = tab.page
    key = server.signup()
    tab.goto("/dashboard")

    # The first Tab reaches the skip link, which moves focus to the content.
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to content")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{server.base_url}/dashboard#main")

    # Sign in with the keyboard only.
    page.get_by_label("API key", exact=True).focus()
    page.keyboard.type(key)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()

    # Settings: tab to the budget field, type, submit with Enter.
    page.goto(server.base_url + "/settings")
    page.get_by_label("Name of the new key").focus()
    page.keyboard.press("Tab")  # the Create key button
    expect(page.locator(":focus")).to_have_text("Create key")
    page.get_by_label("Amount in USD per month").focus()
    page.keyboard.type("250")
    page.keyboard.press("Enter")
    expect(page.locator("#flash")).to_have_text("Budget saved.")
    expect(page.locator("#budget-current")).to_contain_text("$250.00")
    tab.assert_clean()
