"""Adding a component is one module and one registry line: a toy regulariser registered inside this test is found
in the CLI's help, the form, the OpenAPI document, the validator and a run, with no other edit."""
from __future__ import annotations

from typing import Any

import pytest
import torch

from nascore.cli import build_parser
from nascore.config import ConfigError, validate_config
from nascore.optimizers.components.regularizers import REGULARIZERS
from nascore.runner import run_search
from nascore.settings import Settings, setting

pytestmark = pytest.mark.django_db


class ToySettings(Settings):
    """A toy regulariser's strength."""

    title = "Toy regulariser"

    toy_weight: float = setting(1.0, "Weight of the squared architecture parameters.", ge=0, source="this test")


def toy_l2(method: Any) -> torch.Tensor:
    return method.config.toy_weight * sum((alpha ** 2).sum() for alpha in method.alphas.values())


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(REGULARIZERS, "entries", dict(REGULARIZERS.entries))  # the registry as it was, after the test
    REGULARIZERS.add("toy_l2", toy_l2, "squared architecture parameters", "this test", settings=(ToySettings,))


TINY = {"space": "s3", "dataset": "digits", "epochs": 2, "channels": 4, "layers": 3, "batch_size": 32,
        "steps_per_epoch": 4, "device": "cpu", "seed": 1, "curvature_every": 0, "alpha_lr": 0.05}


def test_the_toy_component_is_everywhere(toy: None, client: Any, alice: Any, tmp_path: Any) -> None:
    search = build_parser()._subparsers._group_actions[0].choices["search"]
    help_text = " ".join(search.format_help().split())
    assert "--toy-weight" in help_text and "toy_l2" in help_text and "Toy regulariser" in help_text

    client.force_login(alice)
    html = client.get("/experiments/new").content.decode()
    assert 'name="toy_weight"' in html and 'value="toy_l2"' in html and 'id="toy-regulariser-settings"' in html

    document = client.get("/api/openapi.json").json()
    config = document["components"]["schemas"]["NewExperiment"]["properties"]["config"]["properties"]
    assert config["toy_weight"]["minimum"] == 0 and config["toy_weight"]["x-source"] == "this test"
    assert "toy_l2" in config["regularizer"]["anyOf"][0]["enum"]

    with pytest.raises(ConfigError) as info:
        validate_config({"regularizer": "toy_l2", "toy_weight": -1})
    assert info.value.errors == {"toy_weight": "toy_weight must be a non-negative number, not -1"}

    plain = run_search(TINY, tmp_path / "plain").result
    toyed = run_search({**TINY, "regularizer": "toy_l2", "toy_weight": 100.0}, tmp_path / "toy").result
    assert toyed["config"]["regularizer"] == "toy_l2" and toyed["config"]["toy_weight"] == 100.0

    def spread(result: dict[str, Any]) -> float:  # how far the op weights moved from uniform
        return sum(max(row) - min(row) for rows in result["alphas"].values() for row in rows)

    assert spread(toyed) < 0.5 * spread(plain)  # the penalty held the architecture parameters near zero
