"""Reasons on the dashboard (unpriced calls, recommendations) in a real headless
Chromium: names are shown as inline code, never as raw markdown backticks, and
a provider that is not built in is named with the built-in one it resembles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dashboard_support import track
from playwright.sync_api import expect


def test_reasons_show_code_not_backticks_and_name_an_unknown_provider(server: Any, tab: Any, screenshots: Path) -> None:
    page = tab.page
    key = server.signup()
    # Large uncached Anthropic prompts: the prompt-caching tip, whose detail names `cache_control`.
    big_prompts = [
        {"provider": "anthropic", "model": "claude-sonnet-4-5", "input_tokens": 200_000, "output_tokens": 1_000}
    ] * 20
    typo = [{"provider": "opena", "model": "gpt-4o", "input_tokens": 1_000, "output_tokens": 10}]
    track(server, key, big_prompts + typo)
    page.context.request.post(server.base_url + "/api/auth/session", data={"api_key": key})
    tab.goto("/dashboard")

    unpriced = page.locator('[data-panel="unpriced"] li[data-model="gpt-4o"]')
    reason = unpriced.locator("[data-reason]")
    expect(reason).to_contain_text("provider opena is not built in (did you mean openai?)")
    expect(reason.locator("code")).to_have_text(["opena", "openai", "llmlab prices set gpt-4o --provider opena …"])
    tip = page.locator('#recommendations li[data-kind="prompt_caching"] [data-reason]').first
    expect(tip.locator("code", has_text="cache_control")).to_be_visible()

    reasons = page.locator("[data-reason]")
    assert reasons.count() >= 2
    texts = reasons.all_inner_texts()
    assert not [t for t in texts if "`" in t], texts
    tab.screenshot(screenshots, "reasons")
    tab.assert_clean()
