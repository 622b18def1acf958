"""One-shot methods as compositions of components: every preset reproduces what its method computed before
(tests/fixtures/before_composition), overrides compose new methods that learn, combinations that cannot work are
refused with their reason, and the components are listed."""
import json
from pathlib import Path

import pytest
import torch

from nascore.config import ConfigError, validate_config
from nascore.runner import run_search

FIXTURE = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "before_composition" / "results.json").read_text())


def _config(label, space, tmp_path):
    case = FIXTURE["cases"][label]
    return {**FIXTURE["base"], "space": space, "layers": FIXTURE["layers"][space], **case["settings"],
            "data_dir": str(tmp_path / "data")}


@pytest.mark.parametrize("label", sorted(FIXTURE["cases"]))
def test_each_preset_reproduces_the_method_it_replaced(label, tmp_path):
    for space in FIXTURE["layers"]:
        expected = FIXTURE["cases"][label][space]
        config = _config(label, space, tmp_path)
        if "refused" in expected:
            with pytest.raises(ConfigError) as info:
                validate_config(config)
            assert info.value.errors == expected["refused"]
            continue
        result = run_search(config, tmp_path / f"{label}-{space}").result
        assert result["genotype"] == expected["genotype"], (label, space)
        for ct, rows in expected["alphas"].items():
            assert torch.allclose(torch.tensor(result["alphas"][ct]), torch.tensor(rows), rtol=1e-4, atol=1e-6), (label, space, ct)
        for key, value in expected["metrics"].items():
            assert result["metrics"][key] == pytest.approx(value, rel=1e-4, abs=1e-6), (label, space, key)
