"""Browser fixtures for the dashboard's end-to-end tests: Debian's headless
Chromium (/usr/bin/chromium) driven by Playwright, against the real
`llmlab serve` of the shared `server` fixture (tests/e2e/conftest.py).

Without Chromium (or Playwright) the tests fail with CI=true and are skipped,
loudly, elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("LLMLAB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 780}
SHARED_CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"


def in_ci() -> bool:
    return os.environ.get("CI", "") in ("true", "1")


SKIPPED: list[str] = []


def missing(what: str) -> None:
    """Fails under CI, else skips with a message nobody can miss (see `pytest_terminal_summary`)."""
    if in_ci():
        pytest.fail(f"{what}; CI=true, so the dashboard tests cannot be skipped", pytrace=False)
    SKIPPED.append(what)
    pytest.skip(what)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for what in dict.fromkeys(SKIPPED):
        terminalreporter.write_sep("!", f"the dashboard tests were SKIPPED: {what}", red=True, bold=True)


@pytest.fixture(scope="session")
def shared(pytestconfig: pytest.Config) -> ModuleType:
    """tests/e2e/conftest.py itself, for its helpers that are not fixtures (`test_output_dir`)."""
    for plugin in pytestconfig.pluginmanager.get_plugins():
        file = getattr(plugin, "__file__", None)
        if file and Path(file).resolve() == SHARED_CONFTEST:
            return plugin  # type: ignore[no-any-return]
    raise RuntimeError(f"{SHARED_CONFTEST} is not loaded")


@pytest.fixture(scope="session")
def screenshots(shared: ModuleType) -> Path:
    """Where the screenshots go: `test_output_dir()/dashboard/`."""
    folder = Path(shared.test_output_dir()) / "dashboard"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        missing(f"{CHROMIUM} does not exist (install Debian's chromium: `apt-get install -y chromium`)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Playwright is not installed (`pip install -r tests/e2e/requirements.txt`)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Tab:
    """A browser page that records what must never happen: script errors,
    CSP violations, dialogs (an `alert` would mean injected script ran)."""

    page: Any
    base_url: str
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def goto(self, path: str) -> None:
        self.page.goto(self.base_url + path)
        self.wait_rendered()

    def wait_rendered(self) -> None:
        """Waits for the marker the page script sets once every panel is rendered and painted."""
        # A selector, not a JS predicate: the page's CSP forbids the eval a predicate needs.
        self.page.wait_for_selector("html[data-rendered]", state="attached")

    def click_to_load(self, locator: Any) -> None:
        """Clicks what makes the page script load a page (after a request of its
        own), and waits for that page to render. Waiting for the marker alone
        would pass at once on the page being left, which has it too; the next
        `goto` would then abort the navigation still in flight."""
        with self.page.expect_navigation():
            locator.click()
        self.wait_rendered()

    def screenshot(self, folder: Path, name: str) -> None:
        """Saves a full-page screenshot at desktop width and at 360 px."""
        page = self.page
        size = page.viewport_size
        page.screenshot(path=str(folder / f"{name}-desktop.png"), full_page=True)
        page.set_viewport_size(PHONE)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], (
            f"{name}: the page scrolls sideways at 360 px"
        )
        page.screenshot(path=str(folder / f"{name}-phone.png"), full_page=True)
        page.set_viewport_size(size)

    def assert_clean(self) -> None:
        assert not self.dialogs, f"a dialog opened (injected script ran?): {self.dialogs}"
        assert not self.errors, f"script errors or CSP violations: {self.errors}"


@pytest.fixture
def tab(browser: Any, server: Any) -> Iterator[Tab]:
    context = browser.new_context(viewport=DESKTOP, locale="en-US", timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(15_000)
    tab = Tab(page=page, base_url=server.base_url)
    page.on("pageerror", lambda error: tab.errors.append(f"page error: {error}"))

    def on_console(message: Any) -> None:
        # An API answer of 401/404/422 is logged by Chromium but is part of the flow (a wrong key, say).
        if message.type == "error" and "the server responded with a status of 4" not in message.text:
            tab.errors.append(f"console {message.type}: {message.text}")

    page.on("console", on_console)

    def on_dialog(dialog: Any) -> None:
        tab.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    yield tab
    context.close()
