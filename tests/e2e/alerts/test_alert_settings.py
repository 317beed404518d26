"""The settings page's Alerts section in a real headless Chromium against a
real `llmlab serve` and a real webhook receiver: a webhook channel added
through the form, its signing secret shown once, a test alert sent with the
button and followed in the delivery log until the receiver has it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alerts_support import Receivers
from playwright.sync_api import expect

# The log is refreshed 1 s, 2 s, 4 s… after a change while a delivery is pending.
FOLLOW = 20_000


def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("LLMLAB_TEST_OUTPUT", tmp_path)) / "alerts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_webhook_added_in_settings_shows_its_secret_once_and_its_test_alert_arrives_and_is_logged_delivered(
    alert_server: Any, receivers: Receivers, page: Any, tmp_path: Path
) -> None:
    key = alert_server.signup()
    page.context.request.post(alert_server.base_url + "/api/auth/session", data={"api_key": key})
    page.goto(alert_server.base_url + "/settings#alerts")
    page.wait_for_selector("html[data-rendered]", state="attached")
    section = page.locator("#alerts")
    log = page.locator("#alert-log")
    expect(section.locator("#channels-none")).to_be_visible()
    expect(section.get_by_role("button", name="Send a test alert")).to_be_disabled()
    expect(log.locator("#alert-log-none")).to_be_visible()

    form = page.locator("#channel-form")
    form.get_by_label("Kind").select_option("webhook")
    form.get_by_label("URL or email address").fill(receivers.webhook.url)
    form.get_by_label("Name").fill("receiver")
    form.get_by_role("button", name="Add channel").click()

    secret_box = page.locator("#new-secret-box")
    expect(secret_box).to_be_visible()
    secret = page.locator("#new-secret-value").inner_text().strip()
    assert secret.startswith("whsec_"), secret
    receivers.webhook.secret = secret
    row = section.locator("#channels-table tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Webhook")
    expect(row).to_contain_text("receiver")
    expect(page.locator("#flash")).to_have_text("Channel added.")

    section.get_by_role("button", name="Send a test alert").click()

    expect(page.locator("#alert-test-result")).to_contain_text("on its way to 1 channel")
    [received] = receivers.webhook.wait_for(1)
    assert receivers.webhook.problems() == []
    alert_id = received.headers["webhook-id"]
    entry = log.locator(f'li[data-alert-id="{alert_id}"]')
    expect(entry).to_contain_text("Test alert from LLMLab")
    delivery = entry.locator("tbody tr")
    expect(delivery).to_have_attribute("data-delivery-state", "delivered", timeout=FOLLOW)
    expect(delivery.locator("td").nth(1)).to_contain_text("Delivered")
    expect(delivery.locator("td").nth(2)).to_have_text("1")  # attempts
    expect(delivery.locator("td").nth(3)).to_have_text(str(204))  # the receiver's answer
    # The secret stays on screen, to copy, until the page is left.
    expect(page.locator("#new-secret-value")).to_have_text(secret)
    page.locator("#alerts").screenshot(path=str(screenshots(tmp_path) / "settings-alerts.png"))
    log.screenshot(path=str(screenshots(tmp_path) / "settings-alert-log.png"))
    page.set_viewport_size({"width": 360, "height": 780})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, "the page scrolls sideways at 360 px"
    page.locator("#alerts").screenshot(path=str(screenshots(tmp_path) / "settings-alerts-phone.png"))
    log.screenshot(path=str(screenshots(tmp_path) / "settings-alert-log-phone.png"))

    page.reload()
    page.wait_for_selector("html[data-rendered]", state="attached")
    assert secret not in page.content(), "the secret is shown only once"
    expect(page.locator("#new-secret-box")).to_be_hidden()
    expect(log.locator(f'li[data-alert-id="{alert_id}"] tbody tr')).to_have_attribute(
        "data-delivery-state", "delivered"
    )

    section.get_by_role("button", name="Remove the channel Webhook receiver").click()
    section.get_by_role("button", name="Click again to remove").click()
    expect(section.locator("#channels-none")).to_be_visible()
    expect(page.locator("#flash")).to_have_text("Channel removed.")
    expect(log.locator(f'li[data-alert-id="{alert_id}"]')).to_be_visible()
