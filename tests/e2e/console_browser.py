"""Drive the console in Debian's headless Chromium through Playwright (never `playwright
install`: the system browser at /usr/bin/chromium, `make chromium` installs it). Every page
records its JavaScript console errors, CSP violations, failed requests and any request that
leaves the stack's origin, so each test can assert there were none."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.conftest import ROOT

CHROMIUM = os.environ.get("ORDERHUB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = ROOT / "build" / "console-screenshots"
ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",  # no calls out on a closed network
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class Watch:
    origin: str
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def console(self, message: Any) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            self.errors.append(message.text)

    def request(self, request: Any) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "about", "blob"):
            return
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.foreign.append(request.url)

    def assert_clean(self) -> None:
        assert self.errors == [], f"browser console errors: {self.errors}"
        assert self.foreign == [], f"requests left the stack's origin: {self.foreign}"


def launch() -> Iterator[Any]:
    """Chromium for a module's tests (use as the body of a module-scoped fixture)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise AssertionError(f"no Chromium at {CHROMIUM}: run `make chromium` (Debian's package)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield launched
        launched.close()


def open_console(
    browser: Any, api: str, key: str, locale: str = "en-US", fake_clock: bool = False
) -> tuple[Any, Watch]:
    """A fresh tab signed in with `key`; its watch records errors and foreign requests.
    `fake_clock`: the page's timers run on Playwright's clock (`page.clock.fast_forward`)."""
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    if fake_clock:
        page.clock.install()
    page.set_default_timeout(15_000)
    watch = Watch(api)
    page.on("console", watch.console)
    page.on("pageerror", lambda exc: watch.errors.append(f"page error: {exc}"))
    page.on("request", watch.request)
    page.on("requestfailed", lambda r: watch.errors.append(f"request failed: {r.url}"))
    page.goto(f"{api}/console")
    page.get_by_test_id("api-key").fill(key)
    page.get_by_test_id("signin-submit").click()
    page.get_by_test_id("nav").wait_for()
    return page, watch


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
