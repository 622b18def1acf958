"""The browser half of ``bench_events``: headless Chromium (playwright, a test requirement) logged in once, opening
the live page to time how long its history takes to be drawn, and keeping it open to time pushed events.

Each opening is a fresh tab in the same context (one login, one HTTP cache, as a returning user); an opening that
does not finish within ``OPEN_TIMEOUT_MS`` fails the benchmark with the URL rather than waiting on.
"""
from __future__ import annotations

import os
import statistics
from typing import Any

#: how long one opening may take before the benchmark gives up on it
OPEN_TIMEOUT_MS = 90_000

#: read by the page once its history is drawn: the navigation's split, from the page's own performance marks
_TIMINGS_JS = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const events = performance.getEntriesByType("resource").filter((r) => r.name.includes("/events?"));
  const sum = (name) => performance.getEntriesByName(name).reduce((t, m) => t + m.duration, 0);
  return { drawn: window.nasboard.historyDrawnMs ?? performance.now(), scripts: nav.domContentLoadedEventEnd,
           fetch: events.reduce((t, r) => t + r.duration, 0), requests: events.length,
           apply: sum("nasboard:apply"), draw: sum("nasboard:draw") };
}"""


class LivePageBrowser:
    """``with LivePageBrowser(base, username, password) as b: b.open(url) ...``"""

    def __init__(self, base: str, username: str, password: str):
        self.base, self.username, self.password = base, username, password
        self.errors: list[str] = []  # the pages' console errors

    def __enter__(self) -> "LivePageBrowser":
        from playwright.sync_api import sync_playwright

        os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        self._pw = sync_playwright().start()
        try:
            self._browser = self._pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            self._context = self._browser.new_context()
            page = self._new_tab()
            page.goto(f"{self.base}/accounts/login/")
            page.fill("#id_username", self.username)
            page.fill("#id_password", self.password)
            page.click("button[type=submit]")
            page.wait_for_url(f"{self.base}/")
            page.close()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            if getattr(self, "_browser", None) is not None:
                self._browser.close()
        finally:
            self._pw.stop()

    def _new_tab(self) -> Any:
        page = self._context.new_page()
        page.set_default_timeout(OPEN_TIMEOUT_MS)
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        return page

    def open(self, path: str) -> tuple[Any, dict[str, float]]:
        """A fresh tab on ``path`` (the live page), once its whole history is on screen: the tab and its timings
        (milliseconds from the navigation's start)."""
        page = self._new_tab()
        try:
            page.goto(f"{self.base}{path}")
            page.wait_for_function("window.nasboard && window.nasboard.loaded", timeout=OPEN_TIMEOUT_MS)
            return page, page.evaluate(_TIMINGS_JS)
        except Exception as exc:
            page.close()
            raise RuntimeError(f"the live page {path} was not drawn within {OPEN_TIMEOUT_MS / 1000:.0f} s: {exc}") from exc

    def time_openings(self, path: str, count: int) -> list[dict[str, float]]:
        """``count`` openings of ``path``, each in a fresh tab closed afterwards."""
        timings = []
        for _ in range(max(1, count)):
            page, timing = self.open(path)
            page.close()
            timings.append(timing)
        return timings

    @staticmethod
    def live_figures(page: Any) -> dict[str, Any]:
        """What an open live page measured: each event's emission-to-drawn delay (s), and whether it was pushed."""
        return {"latencies": page.evaluate("window.nasboard.latencies"), "streams": page.evaluate("window.nasboard.streams"),
                "failures": page.evaluate("window.nasboard.streamFailures")}


def describe_openings(label: str, loads: list[dict[str, float]]) -> str:
    """The history's draw time over the openings: the median and the first, with where the median went."""
    def med(key: str) -> float:
        return statistics.median(t[key] for t in loads)

    first = loads[0]
    return (f"{label}, {len(loads)} openings: median {med('drawn'):.0f} ms, first {first['drawn']:.0f} ms, "
            f"all {[round(t['drawn']) for t in loads]}; median split: page and scripts (Plotly) {med('scripts'):.0f} ms, "
            f"{first['requests']:.0f} events requests {med('fetch'):.0f} ms, applying events {med('apply'):.0f} ms, "
            f"drawing {med('draw'):.0f} ms")
