"""Headless Chromium for the browser tests: Debian's chromium driven by Playwright, one per test session.

The fixtures live in ``tests/webapp/conftest.py`` (so every browser test module shares one Playwright: a second
in one process fails with "Sync API inside the asyncio loop"); :func:`log_in` is imported by the test modules."""
from __future__ import annotations

import os
from typing import Any, Iterator

import pytest

CHROMIUM = "/usr/bin/chromium"
#: evaluated in a page: the trace types its charts drew, those the loaded plotly.js does not register, and which
#: plotly.js bundle the page loaded
DRAWN_TRACES = """(() => { const known = new Set(Object.keys(Plotly.PlotSchema.get().traces));
    const types = [...document.querySelectorAll('.js-plotly-plot')].flatMap((d) => d.data.map((t) => t.type || 'scatter'));
    return {types: [...new Set(types)].sort(), unknown: types.filter((t) => !known.has(t)),
            bundle: [...document.scripts].map((s) => s.src).filter((s) => s.includes('plotly'))}; })()"""
PASSWORD = "pw-for-tests-123"


def launch_chromium() -> Iterator[Any]:
    """The session's browser; fails (not skips) when Chromium is missing, since CI must run these tests."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Any) -> Iterator[Any]:
    """A fresh page; any console error or uncaught exception fails the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text} ({page.url})")
            if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc} ({page.url})"))
    page.console_problems = problems
    yield page
    context.close()
    assert problems == [], "\n".join(problems)


def log_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
