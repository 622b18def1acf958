"""Pages for everyone, in the markup the server sends: fields with an error point at their help and their message,
the list's sortable headings say which one sorts it and how, progress bars carry their value and a name.
(axe-core on every page, the phone-wide layouts and the live updates: test_browser_accessibility.py.)"""
from __future__ import annotations

import re
from typing import Any

import pytest

from tests.webapp.compare_data import make_run
from tests.webapp.support import form_data, login
from tests.webapp.test_browser_accessibility import live_run

pytestmark = pytest.mark.django_db


def _tag(html: str, pattern: str) -> str:
    found = re.search(pattern, html)
    assert found, pattern
    return found.group(0)


def _ids(html: str) -> set[str]:
    return set(re.findall(r'\sid="([^"]+)"', html))


def test_a_field_with_an_error_points_at_its_help_and_its_message(client: Any, alice: Any) -> None:
    response = login(client, alice).post("/experiments/new", form_data(epochs=0, name="bad"))
    assert response.status_code == 200
    html = response.content.decode()
    field = _tag(html, r'<input[^>]*name="epochs"[^>]*>')
    assert 'aria-invalid="true"' in field and 'aria-describedby="id_epochs_helptext id_epochs_error"' in field
    error = _tag(html, r'<div id="id_epochs_error">.*?</div></div>')
    assert "positive integer" in error or "greater than or equal to 1" in error
    assert 'id="id_epochs_helptext"' in html
    assert re.search(r'<div class="form-errors" role="alert"><p class="form-problem">The experiment was not created', html)
    # a field without an error is not marked invalid, and still points at its help
    batch = _tag(html, r'<input[^>]*name="batch_size"[^>]*>')
    assert "aria-invalid" not in batch and 'aria-describedby="id_batch_size_helptext"' in batch
    # every id any field points at is on the page
    for refs in re.findall(r'aria-describedby="([^"]+)"', html):
        assert set(refs.split()) <= _ids(html), refs


def test_the_retrain_fields_beside_a_search_point_only_at_help_on_the_page(client: Any, alice: Any) -> None:
    search = make_run(alice, "finished search")
    html = login(client, alice).get(f"/experiments/{search.pk}/").content.decode()
    assert 'id="retrain-form"' in html
    refs = re.findall(r'aria-describedby="([^"]+)"', html)
    assert any("id_epochs_helptext" in r for r in refs)
    for ref in refs:
        assert set(ref.split()) <= _ids(html), ref


@pytest.mark.parametrize(("sort", "heading", "direction"), [
    ("", "#", "descending"), ("name", "Name", "ascending"), ("-name", "Name", "descending"),
    ("-acc", "Best val acc", "descending"), ("started", "Started", "ascending"), ("status", "Status", "ascending")])
def test_the_list_headers_say_how_it_is_sorted(client: Any, alice: Any, sort: str, heading: str, direction: str) -> None:
    make_run(alice, "one")
    html = login(client, alice).get("/" + (f"?sort={sort}" if sort else "")).content.decode()
    sorted_headers = re.findall(r'<th aria-sort="(\w+)"><a [^>]*>([^<]+)</a></th>', html)
    assert sorted_headers == [(direction, heading)]
    assert len(re.findall(r"<th[^>]*><a href=", html)) == 5  # the other sortable headings carry no aria-sort


def test_progress_bars_say_their_value(client: Any, alice: Any, tiny_config: dict[str, Any]) -> None:
    exp, _, _ = live_run(alice, tiny_config, epochs_done=3)
    login(client, alice)
    page = client.get(f"/experiments/{exp.pk}/").content.decode()
    bar = _tag(page, r'<div class="bar big" id="progress-bar"[^>]*>')
    assert 'role="progressbar"' in bar and 'aria-valuenow="50.0"' in bar and 'aria-valuemax="100"' in bar
    assert 'aria-label="Progress"' in bar and 'aria-describedby="progress-text"' in bar
    listed = _tag(client.get("/").content.decode(), r'<div class="bar" title="3/6 epochs"[^>]*>')
    assert 'role="progressbar"' in listed and 'aria-valuenow="3"' in listed and 'aria-valuemax="6"' in listed
    assert f'aria-label="Epochs done of #{exp.pk}"' in listed
