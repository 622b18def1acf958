"""The Swagger page in headless Chromium: reached from the navigation, drawn from the generated document with
assets from this server only, and able to call the API with the page's login."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import pytest

from tests.webapp.browser_support import log_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_the_api_docs_page_works_offline_with_the_session(live_server: Any, page: Any, alice: Any) -> None:
    base = live_server.url
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    log_in(page, base, "alice")
    page.click("nav >> text=API")
    page.wait_for_url(f"{base}/api/docs")
    page.wait_for_selector(".opblock")
    from webapp.experiments.api.endpoints import api

    document = api.get_openapi_schema()
    operations = sum(len(methods) for methods in document["paths"].values())
    assert page.locator(".opblock").count() == operations  # one per operation of the document
    assert "NASBoard API" in page.text_content(".info .title")

    tags = page.locator(".opblock-get", has_text="/api/tags")
    tags.locator(".opblock-summary").click()
    tags.locator("button:has-text('Try it out')").click()
    tags.locator("button:has-text('Execute')").click()
    page.wait_for_selector(".live-responses-table tbody .response-col_status")
    assert page.text_content(".live-responses-table tbody .response-col_status").strip() == "200"

    origins = {f"{urlparse(url).scheme}://{urlparse(url).netloc}" for url in requested if not url.startswith("data:")}
    assert origins == {base}, origins  # no CDN: every asset from /static/ of this server
    assert f"{base}/static/ninja/swagger-ui-bundle.js" in requested
