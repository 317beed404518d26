"""Layout details seen in screenshots, measured in a real Chromium at 1280 px
and at phone width: code blocks that fit without scrolling sideways, inline
code that never breaks inside a word, and a new key that no button covers,
shown with the one `llmlab init` command that uses it.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from playwright.sync_api import expect

# The widths of the screenshots (conftest.py's `DESKTOP` and `PHONE`).
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 780}

# Each visible <pre>: its code's id, and how wide its content is against its box.
PRE_WIDTHS = """() => [...document.querySelectorAll("pre")]
  .filter((pre) => pre.getClientRects().length > 0)
  .map((pre) => ({id: pre.querySelector("code")?.id, scroll: pre.scrollWidth, client: pre.clientWidth}))"""

# Each visible inline <code>: its text, its number of line boxes, and the
# character before each place the browser broke it across lines.
INLINE_BREAKS = """() => [...document.querySelectorAll("code")]
  .filter((code) => !code.closest("pre") && !code.hasAttribute("data-new-key") && code.getClientRects().length > 0)
  .map((code) => {
    const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
    const breaks = [];
    let line = null;
    let last = "";
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (let i = 0; i < node.data.length; i++) {
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        // A space where a line ends has no width: it still counts as the character before the break.
        const rect = [...range.getClientRects()].find((r) => r.width > 0);
        if (rect && line && rect.top > line.top + line.height / 2) breaks.push(last);
        if (rect) line = {top: rect.top, height: rect.height};
        last = node.data[i];
      }
    }
    return {text: code.textContent, lines: code.getClientRects().length, breaks};
  })"""

OVERLAP = """([a, b]) => {
  const r = document.querySelector(a).getBoundingClientRect();
  const s = document.querySelector(b).getBoundingClientRect();
  return !(r.right <= s.left || s.right <= r.left || r.bottom <= s.top || s.bottom <= r.top);
}"""


def assert_code_blocks_fit(page: Any, where: str, at_least: int) -> None:
    blocks = page.evaluate(PRE_WIDTHS)
    assert len(blocks) >= at_least, f"{where}: {blocks}"
    scrolling = [b for b in blocks if b["scroll"] > b["client"]]
    assert not scrolling, f"{where}: code blocks scroll sideways at {page.viewport_size['width']} px: {scrolling}"


def assert_inline_code_unbroken(page: Any, where: str) -> None:
    width = page.viewport_size["width"]
    codes = page.evaluate(INLINE_BREAKS)
    assert codes, where
    for code in codes:
        text = code["text"]
        inside_a_word = [c for c in code["breaks"] if c not in " /"]
        assert not inside_a_word, f"{where} at {width} px: `{text}` breaks inside a word ({code['breaks']})"
        if "/" not in text and len(text) <= 24:
            assert code["lines"] == 1, f"{where} at {width} px: `{text}` is cut over {code['lines']} lines"


def sign_up_in_the_browser(tab: Any) -> str:
    page = tab.page
    tab.goto("/dashboard")
    page.get_by_role("button", name="Create an account").click()
    key_box = page.locator("#new-account-key")
    expect(key_box).to_have_text(re.compile(r"^llm_[0-9A-Za-z]{48}$"))
    return str(key_box.inner_text())


def continue_to_the_dashboard(tab: Any) -> None:
    tab.click_to_load(tab.page.get_by_role("button", name="I saved it: open the dashboard"))


def test_code_blocks_fit_their_width_at_1280_px(tab: Any) -> None:
    page = tab.page
    tab.goto("/")
    assert_code_blocks_fit(page, "the landing page", at_least=3)

    sign_up_in_the_browser(tab)
    continue_to_the_dashboard(tab)
    expect(page.get_by_role("heading", name="No calls tracked yet")).to_be_visible()
    assert_code_blocks_fit(page, "the empty dashboard", at_least=3)
    tab.assert_clean()


def test_inline_code_never_breaks_inside_a_word(tab: Any) -> None:
    page = tab.page
    for viewport in [DESKTOP, PHONE]:
        page.set_viewport_size(viewport)
        tab.goto("/")
        assert_inline_code_unbroken(page, "the landing page")
        tab.goto("/dashboard")
        assert_inline_code_unbroken(page, "the sign-in page")
    page.set_viewport_size(DESKTOP)
    sign_up_in_the_browser(tab)
    continue_to_the_dashboard(tab)
    for viewport in [DESKTOP, PHONE]:
        page.set_viewport_size(viewport)
        tab.goto("/dashboard")
        assert_inline_code_unbroken(page, "the empty dashboard")
        tab.goto("/settings")
        assert_inline_code_unbroken(page, "the settings page")
    tab.assert_clean()


def assert_new_key_shown(page: Any, server: Any, box: str, key: str) -> None:
    for viewport in [DESKTOP, PHONE]:
        page.set_viewport_size(viewport)
        width = viewport["width"]
        expect(page.locator(box)).to_have_text(key)
        covered = page.evaluate(OVERLAP, [box, f'button[data-copy="{box[1:]}"]'])
        assert not covered, f"{box} at {width} px: the Copy button overlaps the key"
        whole = page.evaluate(
            f"document.querySelector('{box}').scrollWidth <= document.querySelector('{box}').clientWidth"
        )
        assert whole, f"{box} at {width} px: the key does not fit its box"
        command = page.locator(f"{box}-init")
        expect(command).to_have_text(f"llmlab init --server {server.base_url} \\\n  --api-key {key}")
        assert_code_blocks_fit(page, f"{box} at {width} px", at_least=1)
    page.set_viewport_size(DESKTOP)


def run_shown_command(shared: ModuleType, command: str) -> subprocess.CompletedProcess[str]:
    """Runs the command as a user pasting it would, with a config file of its own."""
    with tempfile.TemporaryDirectory() as home:
        environment = {
            **os.environ,
            "PATH": f"{Path(shared.llmlab_bin()).parent}:{os.environ['PATH']}",
            "LLMLAB_CONFIG": f"{home}/config.toml",
            "NO_COLOR": "1",
        }
        environment.pop("LLMLAB_API_KEY", None)
        environment.pop("LLMLAB_BASE_URL", None)
        return subprocess.run(
            ["bash", "-c", command], env=environment, capture_output=True, text=True, timeout=60, check=False
        )


def test_a_new_account_key_sits_beside_its_copy_button_with_the_init_command_that_uses_it(
    tab: Any, server: Any, shared: ModuleType, screenshots: Path
) -> None:
    page = tab.page
    key = sign_up_in_the_browser(tab)
    assert_new_key_shown(page, server, "#new-account-key", key)
    expect(page.locator("#signup-result")).to_contain_text("a plain llmlab init would create another account")
    tab.screenshot(screenshots, "signup-key")

    # The command shown signs in to this account: it does not create a second one.
    result = run_shown_command(shared, page.locator("#new-account-key-init").inner_text())
    assert result.returncode == 0, result.stderr
    assert "Signed in to account" in result.stderr and "Created account" not in result.stderr, result.stderr

    continue_to_the_dashboard(tab)
    tab.goto("/settings")
    page.get_by_role("button", name="Create key").click()
    new_key = page.locator("#new-key-value")
    expect(new_key).to_have_text(re.compile(r"^llm_[0-9A-Za-z]{48}$"))
    assert_new_key_shown(page, server, "#new-key-value", str(new_key.inner_text()))
    tab.assert_clean()
