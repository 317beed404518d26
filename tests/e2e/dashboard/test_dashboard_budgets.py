"""Budgets in a real headless Chromium against a real `llmlab serve`:
added through the settings page (the whole account, a project, an API key,
a tag), one bar each on the dashboard, bars that move with tracked spend and
with calls in flight without a reload, then edited and deleted from settings.

Every assertion is on what the page shows; amounts come from the API's own
cost figures (exact decimals).
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from dashboard_support import track, usd
from playwright.sync_api import expect

# Live updates poll every 2 s; allow a few rounds.
LIVE = 10_000

SEARCH_CALL = {
    "provider": "openai",
    "model": "gpt-4o",
    "input_tokens": 1_000_000,
    "output_tokens": 100_000,
    "project": "search",
    "tags": {"customer": "acme"},
}


def sign_in(server: Any, tab: Any, key: str) -> None:
    tab.page.context.request.post(server.base_url + "/api/auth/session", data={"api_key": key})


def add_budget(page: Any, amount: str, scope: str, target: str | None = None, **extra: Any) -> None:
    """Fills and sends the settings page's "Add a budget" form."""
    form = page.locator("#new-budget-form")
    form.get_by_label("Amount in USD").fill(amount)
    form.get_by_label("Counts the calls of").select_option(scope)
    if scope == "project":
        form.get_by_label("Project").fill(target)
    elif scope == "key":
        form.get_by_label("API key").select_option(label=target)
    elif scope == "tag":
        form.get_by_label("Tag").fill(target)
    form.get_by_label("Period").select_option(extra.get("period", "month"))
    form.get_by_label("Warn at").fill(extra.get("thresholds", ""))
    form.get_by_label("Hard", exact=True).set_checked(extra.get("hard", False))
    form.get_by_role("button", name="Add budget").click()


def bar(page: Any, title: str) -> Any:
    """The dashboard's bar of the budget named `title` (`Weekly budget · project search`)."""
    return page.locator("#budget-bars > li").filter(has=page.get_by_role("heading", name=title, exact=True))


def test_budgets_added_in_settings_get_one_bar_each_that_moves_with_spend_and_calls_in_flight(
    server: Any, tab: Any, screenshots: Path
) -> None:
    page = tab.page
    key = server.signup()
    status, created = server.request("POST", "/api/keys", {"name": "ci runner"}, key=key)
    assert status == 201, created
    runner = created["api_key"]
    spent = track(server, key, [SEARCH_CALL])
    sign_in(server, tab, key)

    tab.goto("/settings")
    expect(page.locator("#budgets-none")).to_have_text("No budgets yet.")
    # The target field follows the scope: none for the account.
    form = page.locator("#new-budget-form")
    expect(form.get_by_label("Project")).to_be_hidden()
    form.get_by_label("Counts the calls of").select_option("tag")
    expect(form.get_by_label("Tag")).to_be_visible()
    expect(form.get_by_label("Project")).to_be_hidden()

    # Errors from the API and from the form are shown next to it, and nothing is saved.
    add_budget(page, "20", "tag", "acme")
    error = page.locator("#new-budget-error")
    expect(error).to_contain_text("key=value")
    add_budget(page, "20", "tag", "customer=acme", thresholds="80, lots")
    expect(error).to_have_text("`lots` is not a percentage such as 80 or 92.5.")
    add_budget(page, "0", "account")
    expect(error).to_contain_text("must be more than 0")
    expect(page.locator("#budgets-none")).to_be_visible()

    add_budget(page, "$1,000", "account")
    expect(page.locator("#flash")).to_have_text("Budget saved.")
    expect(page.locator("#budgets-list > li")).to_have_count(1)
    expect(error).to_be_hidden()
    add_budget(page, "50", "project", "search", period="week", hard=True)
    expect(page.locator("#budgets-list > li")).to_have_count(2)
    add_budget(page, "5", "key", f"ci runner ({runner[:12]}…)", period="day", thresholds="50, 90%")
    expect(page.locator("#budgets-list > li")).to_have_count(3)
    add_budget(page, "20", "tag", "customer=acme", period="total")
    expect(page.locator("#budgets-list > li")).to_have_count(4)
    expect(page.locator("#budgets-list")).to_contain_text("Weekly budget · project search")
    expect(page.locator("#budgets-list")).to_contain_text("warns at 50%, 90%")
    tab.screenshot(screenshots, "settings-budgets")

    # The dashboard: one bar per budget, each counting only its own calls.
    page.get_by_role("link", name="Dashboard", exact=True).click()
    page.wait_for_url("**/dashboard")
    tab.wait_rendered()
    expect(page.get_by_role("heading", name="Budgets", exact=True)).to_be_visible()
    expect(page.locator("#budget-bars > li")).to_have_count(4)
    account = bar(page, "Monthly budget · whole account")
    project = bar(page, "Weekly budget · project search")
    runner_bar = bar(page, "Daily budget · key ci runner")
    tag = bar(page, "Total budget · tag customer=acme")
    expect(account.locator(".budget-spent")).to_have_text(usd(spent))
    expect(account.locator(".budget-amount")).to_have_text("$1,000.00")
    expect(account).to_contain_text("this month")
    expect(project.locator(".budget-spent")).to_have_text(usd(spent))
    expect(project.locator(".budget-hard")).to_have_text("Hard")
    expect(account.locator(".budget-hard")).to_have_count(0)
    expect(runner_bar.locator(".budget-spent")).to_have_text("$0.00")
    expect(runner_bar).to_contain_text("today")
    expect(runner_bar.locator(".budget-state")).to_have_text("On track")
    expect(runner_bar.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "0")
    expect(tag.locator(".budget-spent")).to_have_text(usd(spent))
    expect(tag).to_contain_text("in total")
    expect(tag.locator(".budget-projected")).to_have_count(0)
    expect(project.locator(".budget-projected")).to_contain_text("Projected week-end:")
    # $3.50 of $20: the tag budget is 17.5% used.
    expect(tag.get_by_role("progressbar")).to_have_attribute("aria-valuetext", f"{usd(spent)} of $20.00 (17.5%)")

    # A call of the ci runner key, live: its bar moves (past its 50% threshold), and only the
    # bars that count it.
    page.evaluate("window.__sameDocument = true")
    runner_call = {"provider": "openai", "model": "gpt-4o", "input_tokens": 1_000_000, "output_tokens": 0}
    more = track(server, runner, [runner_call])
    expect(runner_bar.locator(".budget-spent")).to_have_text(usd(more), timeout=LIVE)
    expect(runner_bar).to_have_attribute("data-budget-state", "warning")
    expect(runner_bar.locator(".budget-state")).to_have_text("50% used")
    expect(runner_bar.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "50")
    expect(account.locator(".budget-spent")).to_have_text(usd(spent + more))
    expect(project.locator(".budget-spent")).to_have_text(usd(spent))
    expect(tag.locator(".budget-spent")).to_have_text(usd(spent))

    # A call in flight under the hard project budget holds part of it, shown until it is released.
    reserve = {"provider": "openai", "model": "gpt-4o", "project": "search", "max_output_tokens": 1000}
    status, hold = server.request("POST", "/api/budgets/reserve", reserve, key=key)
    assert status == 201, hold
    held = project.locator(".budget-held")
    expect(held).to_contain_text("Held by calls in flight: ", timeout=LIVE)
    expect(held).to_contain_text(usd(Decimal(hold["reserved_usd"])))
    expect(account.locator(".budget-held")).to_have_count(0)
    tab.screenshot(screenshots, "dashboard-budgets")
    status, _ = server.request("DELETE", f"/api/budgets/reservations/{hold['reservation_id']}", key=key)
    assert status == 204
    expect(held).to_have_count(0, timeout=LIVE)

    # Over budget, live: the tag budget turns red.
    over = track(server, key, [SEARCH_CALL] * 5)
    expect(tag).to_have_attribute("data-budget-state", "exceeded", timeout=LIVE)
    expect(tag.locator(".budget-state")).to_have_text("Over budget")
    expect(tag.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    expect(tag.locator(".budget-spent")).to_have_text(usd(spent + over))
    expect(tag.locator("rect").first).to_have_class(re.compile("fill-red-600"))
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    tab.assert_clean()


def test_a_budget_is_edited_and_deleted_from_settings_and_its_bar_follows(
    server: Any, tab: Any, screenshots: Path
) -> None:
    page = tab.page
    key = server.signup()
    spent = track(server, key, [SEARCH_CALL])
    for body in (
        {"amount_usd": "100", "scope": "project", "target": "search"},
        {"amount_usd": "30", "scope": "tag", "target": "customer=acme", "period": "week"},
    ):
        status, answer = server.request("POST", "/api/budgets/scoped", body, key=key)
        assert status == 201, answer
    sign_in(server, tab, key)

    tab.goto("/dashboard")
    project = bar(page, "Monthly budget · project search")
    expect(project).to_have_attribute("data-budget-state", "ok")
    expect(project.locator(".budget-hard")).to_have_count(0)

    tab.goto("/settings")
    item = page.locator("#budgets-list > li").filter(has_text="project search")
    item.locator("summary").click()
    amount = item.get_by_label("Amount in USD")
    expect(amount).to_have_value("100")
    expect(item.get_by_label("Warn at")).to_have_value("80, 100")

    # A refused change shows the API's message beside its form and changes nothing.
    amount.fill("0")
    item.get_by_role("button", name=re.compile("^Save changes")).click()
    expect(item.locator("[data-error]")).to_contain_text("must be more than 0")

    # Edited: 4× the spend with a warning at 25% makes the budget amber, weekly and hard.
    amount.fill(str(spent * 4))
    item.get_by_label("Period").select_option("week")
    item.get_by_label("Warn at").fill("25, 100")
    item.get_by_label("Hard", exact=True).check()
    item.get_by_role("button", name=re.compile("^Save changes")).click()
    expect(page.locator("#flash")).to_have_text("Budget updated.")
    item = page.locator("#budgets-list > li").filter(has_text="project search")
    expect(item).to_contain_text("Weekly budget · project search")
    expect(item).to_contain_text(f"{usd(spent * 4)} · spent {usd(spent)} this week (25.0%) · warns at 25%, 100% · hard")

    # Deleted: two clicks.
    tag = page.locator("#budgets-list > li").filter(has_text="tag customer=acme")
    delete = tag.locator('button[data-api^="DELETE"]')
    expect(delete).to_have_accessible_name("Delete the Weekly budget · tag customer=acme")
    delete.click()
    expect(delete).to_have_text("Click again to delete")
    delete.click()
    expect(page.locator("#flash")).to_have_text("Budget deleted.")
    expect(page.locator("#budgets-list > li")).to_have_count(1)
    status, listed = server.request("GET", "/api/budgets/scoped", key=key)
    assert status == 200
    assert [(b["scope"], b["period"], b["hard"], b["thresholds"]) for b in listed["budgets"]] == [
        ("project", "week", True, [25, 100])
    ]

    page.get_by_role("link", name="Dashboard", exact=True).click()
    page.wait_for_url("**/dashboard")
    tab.wait_rendered()
    expect(page.locator("#budget-bars > li")).to_have_count(1)
    project = bar(page, "Weekly budget · project search")
    expect(project).to_have_attribute("data-budget-state", "warning")
    expect(project.locator(".budget-state")).to_have_text("25% used")
    expect(project.locator(".budget-hard")).to_have_text("Hard")
    expect(project.locator(".budget-amount")).to_have_text(usd(spent * 4))
    expect(page.get_by_role("heading", name="Budget", exact=True)).to_be_visible()
    tab.screenshot(screenshots, "dashboard-one-budget")

    # The last one deleted from settings: the dashboard invites to add one.
    tab.goto("/settings")
    delete = page.locator('#budgets-list button[data-api^="DELETE"]')
    delete.click()
    delete.click()
    expect(page.locator("#budgets-none")).to_have_text("No budgets yet.")
    tab.goto("/dashboard")
    expect(page.locator('[data-budget-state="none"]')).to_contain_text("No budget yet.")
    expect(page.locator("#budget-spent")).to_have_text(usd(spent))
    tab.assert_clean()


def test_the_account_hard_box_makes_the_monthly_budget_of_the_account_hard(server: Any, tab: Any) -> None:
    page = tab.page
    key = server.signup()
    sign_in(server, tab, key)
    tab.goto("/settings")
    page.get_by_label("Amount in USD per month").fill("40")
    page.get_by_role("button", name="Save budget").click()
    expect(page.locator("#budget-current")).to_contain_text("$40.00")
    item = page.locator("#budgets-list > li")
    expect(item).to_have_count(1)
    expect(item).not_to_contain_text("· hard")

    page.get_by_label("Make the monthly budget of the whole account hard").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#flash")).to_have_text("Saved.")
    expect(page.locator("#budgets-list > li")).to_contain_text("· hard")
    expect(page.get_by_label("Make the monthly budget of the whole account hard")).to_be_checked()

    tab.goto("/dashboard")
    account = bar(page, "Monthly budget · whole account")
    expect(account.locator(".budget-hard")).to_have_text("Hard")
    expect(account.locator(".budget-amount")).to_have_text("$40.00")
    tab.assert_clean()
