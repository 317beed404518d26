"""The dashboard on a server deployed in public (issue 13): an invite link
opens the sign-up form with the invite filled in, the account is greeted by
its name, and settings list the signed-in browsers, which can be signed out
one by one or everywhere.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

import pytest
from playwright.sync_api import expect

ADMIN = "llmadm_e2e-admin-token-0123456789abcdef"


@pytest.fixture
def server(server_factory: Callable[..., Any]) -> Any:
    """An invite-only server (overrides the shared fixture, so `tab` opens it)."""
    return server_factory(args=["--signup", "invite"], env={"LLMLAB_ADMIN_TOKEN": ADMIN})


def test_an_invite_link_signs_up_a_named_account_that_manages_its_sessions(
    server: Any, tab: Any, screenshots: Path
) -> None:
    page = tab.page
    status, invite = server.request("POST", "/api/auth/invites", {}, key=ADMIN)
    assert status == 201, invite

    # Without the invite, the form asks for it; the link fills it in.
    tab.goto("/dashboard")
    expect(page.get_by_label("Invite link")).to_have_value("")
    tab.goto(invite["url"].removeprefix(server.base_url))
    expect(page.get_by_label("Invite link")).to_have_value(invite["invite"])
    page.get_by_label("Your name (optional)").fill("Ada Lovelace")
    tab.screenshot(screenshots, "public-invite-signup")
    page.get_by_role("button", name="Create an account").click()
    expect(page.locator("#new-account-key")).to_have_text(re.compile(r"^llm_[0-9A-Za-z]{48}$"))
    key = page.locator("#new-account-key").inner_text()
    tab.click_to_load(page.get_by_role("button", name="I saved it: open the dashboard"))

    # Greeted by name, not by an id.
    expect(page.locator("#signed-in-as")).to_have_text("Ada Lovelace")
    tab.screenshot(screenshots, "public-signed-in-by-name")

    # The same link does not work twice.
    status, body = server.request("POST", "/api/auth/signup", {"invite": invite["url"]})
    assert (status, body["error"]["code"]) == (403, "invite_invalid")

    # A second browser signs in; settings list both, this one marked.
    status, _ = server.request("POST", "/api/auth/session", {"api_key": key})
    assert status == 200
    page.get_by_role("link", name="Settings", exact=True).click()
    page.wait_for_url("**/settings")
    tab.wait_rendered()
    rows = page.locator("#sessions-table tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#sessions-table .session-current")).to_have_count(1)
    tab.screenshot(screenshots, "public-sessions")

    # Members can invite: the link is shown once.
    page.get_by_role("button", name="Create an invite link").click()
    expect(page.locator("#new-invite-url")).to_contain_text(f"{server.base_url}/signup?invite=inv_")

    # Signing the other browser out keeps this one; "everywhere" ends this one too.
    other = rows.filter(has_not=page.locator(".session-current"))
    other.get_by_role("button").click()
    other.get_by_role("button").click()
    expect(page.locator("#flash")).to_have_text("Signed out that browser.")
    expect(rows).to_have_count(1)
    page.get_by_role("button", name="Sign out everywhere").click()
    page.get_by_role("button", name="Click again to sign out everywhere").click()
    expect(page.get_by_role("heading", name="Sign in to your dashboard")).to_be_visible()
    status, sessions = server.request("GET", "/api/auth/sessions", key=key)
    assert (status, sessions) == (200, [])
    tab.assert_clean()


def test_a_closed_server_says_whom_to_ask(server_factory: Callable[..., Any], browser: Any) -> None:
    closed = server_factory(args=["--signup", "closed"], env={"LLMLAB_ADMIN_TOKEN": ADMIN})
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(closed.base_url + "/dashboard")
        expect(page.locator("#signup-closed")).to_contain_text("Ask its operator for an account")
        expect(page.get_by_role("button", name="Create an account")).to_have_count(0)
    finally:
        context.close()
