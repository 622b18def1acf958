"""Property-based fuzz of the API with schemathesis, from the generated OpenAPI document, against the real WSGI app,
database and task queue, with a real token.

For every operation a fixed, derandomized number of requests (bodies, query and path parameters the schema
allows, and ones it does not): no answer may be a 5xx, every answer must be a status the document lists for the
operation with a body that fits its schema, and a request the schema refuses must be refused (4xx). Generated ids
are mapped onto a few real experiments (and one missing), so the success answers are fuzzed too, not only 404s.
"""
from __future__ import annotations

from typing import Any, Iterator

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.webapp.api_support import World, make_world
from tests.webapp.fuzz_support import EXAMPLES, HYPOTHESIS, api_schema
from webapp.experiments.services import studies

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]

schema = api_schema()
app = WSGIHandler()


@pytest.fixture
def world(alice: Any, bob: Any, table: Any) -> Iterator[World]:
    """The world, and the WSGI app kept off the test's database connection (as Django's test client does: a
    request's start and end would otherwise close it, and with it the test's transaction)."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        with override_settings(NASBOARD_MAX_CONCURRENT_RUNS=5):
            world = make_world(alice, bob)
            world.study = studies.create_study(alice, {"trials": 2, "max_epochs": 1, "min_epochs": 1})  # type: ignore[attr-defined]
            yield world
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


def _real_ids(world: World, generated: Any) -> int:
    """A generated id mapped onto one of the world's experiments, or kept (a missing one) for a fifth of them."""
    known = [world.finished.pk, world.queued.pk, world.running.pk, world.cancelled.pk]
    return known[generated % 5] if isinstance(generated, int) and generated % 5 < 4 else generated


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, **HYPOTHESIS)
def test_fuzzed_requests_get_documented_answers(case: Any, world: World) -> None:
    if "id" in (case.path_parameters or {}):
        case.path_parameters["id"] = _real_ids(world, case.path_parameters["id"])
        if case.path.startswith("/api/studies/") and case.path_parameters["id"] == world.queued.pk:
            case.path_parameters["id"] = world.study.pk  # type: ignore[attr-defined]
    if (case.path_parameters or {}).get("space") and len(case.path_parameters["space"]) % 2:
        case.path_parameters["space"] = "nb201"
    token = {"Authorization": world.alice["HTTP_AUTHORIZATION"]}
    response = case.call(app=app, headers=token)
    case.validate_response(response, checks=CHECKS, headers=token)
