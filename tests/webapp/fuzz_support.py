"""The API fuzz's schema and generation (schemathesis, from the generated OpenAPI document), shared by the fuzz test
against the WSGI app (test_api_fuzz.py) and by the load test that fuzzes a running server while runs go on
(test_faults.py's ``ApiFuzzer``)."""
from __future__ import annotations

import threading
from typing import Any, Callable

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from webapp.experiments.api.endpoints import api

#: generated requests per operation in the fuzz test
EXAMPLES = 60


def api_schema(examples: int = EXAMPLES) -> Any:
    """The API's OpenAPI document as schemathesis reads it: valid and invalid requests, derandomized."""
    schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api/"))
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=examples,
                                    deterministic=True, with_security_parameters=False)
    return schema


HYPOTHESIS = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow, HealthCheck.filter_too_much])


class ApiFuzzer(threading.Thread):
    """The fuzz as a client of a running server: every operation in turn, ``per_round`` generated requests each,
    round after round until stopped, with a Bearer ``token``. ``prepare(case)`` may rewrite a case (its ids) before
    it is sent. Keeps every answer's status by operation; ``server_errors`` lists the 5xx ones, ``failures`` what
    could not be sent at all."""

    def __init__(self, base_url: str, token: str, prepare: Callable[[Any], None] = lambda case: None, per_round: int = 5):
        super().__init__(daemon=True)
        self.base_url, self.headers, self.prepare, self.per_round = base_url, {"Authorization": f"Bearer {token}"}, prepare, per_round
        self.statuses: list[tuple[str, int]] = []
        self.server_errors: list[str] = []
        self.failures: list[str] = []
        self._stop_event = threading.Event()
        # read here, on the caller's thread: the document lists the saved spaces, a query a thread of its own would
        # leave an open connection for
        self.operations = [result.ok() for result in api_schema(per_round).get_all_operations()]

    def run(self) -> None:
        while not self._stop_event.is_set():
            for operation in self.operations:
                if self._stop_event.is_set():
                    return
                self._fuzz(operation)

    def _fuzz(self, operation: Any) -> None:
        @settings(max_examples=self.per_round, **HYPOTHESIS)
        @given(case=operation.as_strategy())
        def send(case: Any) -> None:
            self.prepare(case)
            try:
                response = case.call(base_url=self.base_url, headers=self.headers, timeout=30)
            except Exception as exc:  # noqa: BLE001 - counted: a refused or dropped connection is a failure too
                self.failures.append(f"{case.method} {case.formatted_path}: {type(exc).__name__}: {exc}")
                return
            self.statuses.append((f"{case.method} {operation.path}", response.status_code))
            if response.status_code >= 500:
                self.server_errors.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}")

        send()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=120)
