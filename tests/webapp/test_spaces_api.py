"""The spaces API: list, read, check, save and new versions; an invalid document is answered with every problem by
its place and saves nothing; every answer fits the OpenAPI document."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test import Client

from tests.webapp.api_support import Contract
from tests.webapp.support import token_for
from webapp.experiments.models import SavedSpace

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parents[1] / "nascore" / "spaces"
LADDER = (DOCS / "ladder.yaml").read_text()
FORK = (DOCS / "fork.yaml").read_text()


@pytest.fixture
def contract(client: Client) -> Contract:
    return Contract(client.get("/api/openapi.json").json())


def post(client: Client, url: str, body: Any, auth: dict[str, str]) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json", **auth)


def test_save_read_list_and_version_a_space(client: Client, contract: Contract, alice: Any, bob: Any) -> None:
    a, b, check = token_for(alice), token_for(bob), contract.check
    made = check("POST", "/api/spaces", post(client, "/api/spaces", {"document": LADDER}, a))
    assert made.status_code == 201 and made["Location"] == "/api/spaces/ladder@1"
    body = made.json()
    assert (body["name"], body["version"], body["reference"], body["owner"], body["document"]) == \
        ("ladder", 1, "ladder@1", "alice", LADDER)
    assert body["summary"]["cell_types"]["rung"]["edge_list"][2] == {"from": 0, "to": 2,
                                                                    "ops": ["skip_connect", "avg_pool_5x5"]}
    second = yaml.safe_load(LADDER) | {"title": "two"}
    made = check("POST", "/api/spaces/{space}/versions",
                 post(client, "/api/spaces/ladder/versions", {"document": yaml.safe_dump(second)}, a))
    assert made.status_code == 201 and made.json()["version"] == 2
    assert [v["version"] for v in made.json()["versions"]] == [2, 1]
    assert check("GET", "/api/spaces/{space}", client.get("/api/spaces/ladder", **b)).json()["title"] == "two"
    assert check("GET", "/api/spaces/{space}", client.get("/api/spaces/ladder@1", **b)).json()["document"] == LADDER
    darts = check("GET", "/api/spaces/{space}", client.get("/api/spaces/darts", **a)).json()
    assert darts["builtin"] and darts["versions"] == [] and darts["summary"]["architectures_log10"] > 17
    assert check("GET", "/api/spaces/{space}", client.get("/api/spaces/nope@3", **a)).status_code == 404
    listed = check("GET", "/api/spaces", client.get("/api/spaces", **a)).json()
    assert [s["name"] for s in listed["saved"]] == ["ladder"] and listed["saved"][0]["version"] == 2
    assert {s["name"] for s in listed["builtins"]} == {"darts", "nb201", "s1", "s2", "s3", "s4"}
    # bob may read it, not add a version; nor take its name
    refused = check("POST", "/api/spaces/{space}/versions",
                    post(client, "/api/spaces/ladder/versions", {"document": LADDER}, b))
    assert refused.status_code == 404
    clash = check("POST", "/api/spaces", post(client, "/api/spaces", {"document": LADDER}, b))
    assert clash.status_code == 400 and "another user" in clash.json()["errors"]["name"]
    assert SavedSpace.objects.count() == 2


def test_an_invalid_document_is_answered_with_its_problems_and_saves_nothing(client: Client, contract: Contract,
                                                                               alice: Any) -> None:
    a, check = token_for(alice), contract.check
    data = yaml.safe_load(FORK)
    data["rule"]["inputs"] = 4
    data["macro"]["normal_cell"] = "missing"
    answer = check("POST", "/api/spaces", post(client, "/api/spaces", {"document": yaml.safe_dump(data)}, a))
    assert answer.status_code == 400 and "macro.normal_cell" in answer.json()["errors"]
    assert check("POST", "/api/spaces", post(client, "/api/spaces", {"document": 3}, a)).status_code == 400
    assert check("POST", "/api/spaces", post(client, "/api/spaces", {"document": "x"}, {})).status_code == 401
    assert not SavedSpace.objects.exists()


def test_check_validates_without_saving(client: Client, contract: Contract, alice: Any) -> None:
    a, check = token_for(alice), contract.check
    good = check("POST", "/api/space-check",
                 post(client, "/api/space-check", {"document": FORK, "channels": 4, "layers": 5}, a)).json()
    assert good["valid"] and good["problems"] == {} and good["summary"]["size"]["layers"] == 5
    assert [p["reduction"] for p in good["summary"]["macro"]["positions"]] == [False, False, True, False, False]
    small = check("POST", "/api/space-check", post(client, "/api/space-check", {"document": FORK, "layers": 1}, a))
    assert not small.json()["valid"] and "layers" in small.json()["problems"] and small.json()["summary"] is None
    data = yaml.safe_load(LADDER)
    data["cells"]["rung"]["edges"][1]["to"] = 7
    bad = check("POST", "/api/space-check", post(client, "/api/space-check", {"document": yaml.safe_dump(data)}, a))
    assert "cells.rung.edges[1]" in bad.json()["problems"]
    assert check("POST", "/api/space-check", post(client, "/api/space-check", {"document": FORK, "layers": 999},
                                                  a)).status_code == 400
    assert not SavedSpace.objects.exists()
