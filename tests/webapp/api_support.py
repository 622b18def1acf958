"""Helpers for the API contract tests: checking answers against the served OpenAPI document, engine events as the
engine emits them, and a small world of experiments in every state an endpoint answers differently for."""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass
from typing import Any, Iterator, Union

import jsonschema_rs
from django.http import HttpResponse
from django.utils import timezone

from webapp.experiments.api.events import event_classes
from webapp.experiments.models import ApiToken, Experiment, Result, Status
from webapp.experiments.services import runs

#: a DARTS cell a retrain can build
DARTS_V2 = {"normal": [["sep_conv_3x3", 0], ["sep_conv_3x3", 1], ["sep_conv_3x3", 0], ["sep_conv_3x3", 1],
                       ["sep_conv_3x3", 1], ["skip_connect", 0], ["skip_connect", 0], ["dil_conv_3x3", 2]],
            "normal_concat": [2, 3, 4, 5],
            "reduce": [["max_pool_3x3", 0], ["max_pool_3x3", 1], ["skip_connect", 2], ["max_pool_3x3", 1],
                       ["max_pool_3x3", 0], ["skip_connect", 2], ["skip_connect", 2], ["max_pool_3x3", 1]],
            "reduce_concat": [2, 3, 4, 5]}
SEARCH_CONFIG = {"space": "darts", "optimizer": "darts", "dataset": "digits", "epochs": 3, "batch_size": 32,
                 "channels": 4, "layers": 5, "order": 1, "w_lr": 0.025, "alpha_lr": 0.0003, "seed": 0, "device": "cpu"}


def body_of(response: HttpResponse) -> bytes:
    """The answer's bytes, a streamed one read once and kept."""
    if not hasattr(response, "read_body"):
        response.read_body = (b"".join(response.streaming_content)  # type: ignore[attr-defined]
                              if response.streaming else response.content)
    return response.read_body  # type: ignore[attr-defined]


class Contract:
    """Checks answers against the OpenAPI document and records which documented answers were seen."""

    def __init__(self, document: dict[str, Any]):
        self.document = document
        self.seen: set[tuple[str, str, str]] = set()

    def documented(self) -> set[tuple[str, str, str]]:
        return {(template, method, status) for template, operations in self.document["paths"].items()
                for method, operation in operations.items() for status in operation["responses"]}

    def validator(self, schema: dict[str, Any]) -> Any:
        return jsonschema_rs.validator_for({**schema, "components": self.document["components"]})

    def check(self, method: str, template: str, response: HttpResponse) -> HttpResponse:
        """Assert the answer's status is documented for the operation and its body fits that status's schema."""
        operation = self.document["paths"][template][method.lower()]
        status = str(response.status_code)
        assert status in operation["responses"], f"{method} {template} answered {status}, not documented: {body_of(response)[:300]!r}"
        media = response["Content-Type"].split(";")[0].strip()
        content = operation["responses"][status].get("content", {})
        assert media in content, f"{method} {template} {status} answered {media}; documented: {sorted(content)}"
        validator = self.validator(content[media]["schema"])
        text = body_of(response).decode()
        instances = ([json.loads(line) for line in text.splitlines()] if media == "application/x-ndjson"
                     else [text] if media == "text/csv" else [json.loads(text)])
        for instance in instances:
            problems = [f"/{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(instance)]
            assert not problems, f"{method} {template} {status} does not fit its schema: {problems[:5]}"
        self.seen.add((template, method.lower(), status))
        return response

    def check_error(self, response: HttpResponse, status: int) -> dict[str, Any]:
        """An answer outside any operation (no route, a method not taken): ``status`` with the Error schema."""
        assert response.status_code == status and response["Content-Type"].startswith("application/json")
        body = json.loads(body_of(response))
        assert self.validator({"$ref": "#/components/schemas/Error"}).is_valid(body), body
        return body


def _sample(hint: Any) -> Any:
    """A plain value of a dataclass field's type."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        return _sample(next(arg for arg in typing.get_args(hint) if arg is not type(None)))
    base = typing.get_origin(hint) or hint
    return {int: 3, float: 0.25, str: "x", bool: True, dict: {"k": 1}, list: [1]}.get(base, "|nor_conv_3x3~0|")


def engine_events(nan: bool = False) -> Iterator[dict[str, Any]]:
    """One event of every type, made by the engine's own event classes; ``nan``: every float field NaN (a diverged
    run), which the database stores as null."""
    for cls in event_classes():
        hints = typing.get_type_hints(cls)
        values = {f.name: float("nan") if nan and hints[f.name] is float else _sample(hints[f.name])
                  for f in dataclasses.fields(cls) if f.init}
        yield cls(**values).to_dict()


def stored(owner: Any, name: str, status: str, **fields: Any) -> Experiment:
    """An experiment as a worker leaves it, never sent to one."""
    return Experiment.objects.create(owner=owner, name=name, config=dict(SEARCH_CONFIG), space="darts",
                                     optimizer="darts", dataset="digits", seed=0, device_requested="cpu",
                                     queue="not-sent", status=status, epochs=3, dispatch=1, **fields)


@dataclass
class World:
    """alice's experiments in each state the endpoints answer differently for, her token, and bob's."""

    alice: dict[str, str]
    bob: dict[str, str]
    queued: Experiment
    running: Experiment
    cancelled: Experiment
    failed: Experiment
    finished: Experiment
    retrain: Experiment


def make_world(alice: Any, bob: Any) -> World:
    now = timezone.now()
    finished = stored(alice, "finished search", Status.FINISHED, started_at=now, ended_at=now, epochs_done=3)
    Result.objects.create(experiment=finished, genotype=DARTS_V2, val_acc=0.9, best_val_acc=0.91, train_acc=0.95,
                          params=12345, flops=67890, epochs_completed=3,
                          raw={"returned_epoch": 2, "last_genotype": DARTS_V2, "collapse": {"genotype": {}},
                               "selection": {"status": "done", "chosen": 0}, "search_genotype": DARTS_V2})
    sink = runs.DatabaseSink(finished.pk)
    for seq, event in enumerate([*engine_events(), *engine_events(nan=True)], start=1):
        sink(seq, event)
    _, alice_key = ApiToken.issue(alice)
    _, bob_key = ApiToken.issue(bob)
    return World(alice={"HTTP_AUTHORIZATION": f"Bearer {alice_key}"}, bob={"HTTP_AUTHORIZATION": f"Bearer {bob_key}"},
                 queued=stored(alice, "queued", Status.QUEUED), running=stored(alice, "running", Status.RUNNING),
                 cancelled=stored(alice, "cancelled", Status.CANCELLED), failed=stored(alice, "failed", Status.FAILED),
                 finished=finished,
                 retrain=stored(alice, "retrain", Status.QUEUED, kind="retrain", parent=finished))
