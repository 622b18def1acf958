"""Settings declared once beside their components: composition, the one validator, generated CLI flags, and
everything stored before the models existed (configs, result.json, checkpoints) still working."""
import json
import re
import shutil
from pathlib import Path

import pytest

from nascore import config as C
from nascore.cli import build_parser, main
from nascore.evaluation.train import EvalConfig, eval_settings, validate_eval_config
from nascore.events import read_events
from nascore.runner import run_search
from nascore.settings import ConfigError, Settings, fields_of, info_of, setting

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "before_settings_models"

#: the search config as it was stored before the settings models (the flat dataclass's 55 fields and defaults)
STORED_DEFAULTS = {
    "space": "darts", "optimizer": "darts", "order": 1, "dataset": "digits", "data_dir": "data", "download": False,
    "epochs": 10, "batch_size": 64, "channels": None, "layers": None, "seed": 0, "device": "auto",
    "train_portion": 0.5, "w_lr": 0.025, "w_lr_min": 0.001, "w_momentum": 0.9, "w_weight_decay": 3e-4,
    "grad_clip": 5.0, "alpha_lr": 3e-4, "alpha_beta1": 0.5, "alpha_beta2": 0.999, "alpha_weight_decay": 1e-3,
    "steps_per_epoch": None, "step_log_every": 10, "num_workers": 0, "channels_last": True, "curvature_every": 1,
    "curvature_samples": 64, "curvature_trace_samples": 4, "early_stop": "none", "early_stop_window": 5,
    "early_stop_threshold": 0.75, "ada_factor": 3.0, "ada_max_increases": 4, "tau_max": 10.0, "tau_min": 0.1,
    "pc_k": 4, "perturb": "none", "perturb_epsilon": 0.3, "perturb_steps": 7, "drop_path": 0.0,
    "drop_path_schedule": "constant", "derive_samples": 50, "eval_steps": 100, "population_size": 20,
    "tournament_size": 5, "evaluator": "train", "budget": 150, "budget_unit": "queries", "runs": 1,
    "reinforce_lr": 0.05, "benchmark_dir": None, "select_samples": None, "select_top_k": 4, "select_epochs": 2,
}


def test_every_setting_is_declared_once_with_a_description_and_a_source():
    for groups in (C.search_settings(), eval_settings()):
        declared = fields_of(groups)  # raises if two models declare one name
        for name, (model, field_info) in declared.items():
            assert field_info.description, f"{model.__name__}.{name} has no description"
            assert info_of(field_info).source, f"{model.__name__}.{name} does not say where its default comes from"
            assert issubclass(model, Settings) and model.title


def test_stored_configs_keep_their_meaning():
    """Every setting stored before keeps its name and default; settings added since have defaults."""
    now = C.defaults()
    assert {k: now[k] for k in STORED_DEFAULTS} == STORED_DEFAULTS
    assert C.validate_config(STORED_DEFAULTS).to_dict() == now


def test_every_problem_is_reported_at_once_with_its_field():
    with pytest.raises(ConfigError) as info:
        C.validate_config({"space": "nope", "epochs": 0, "w_lr": float("inf"), "batch_size": 2.5, "download": 1,
                           "w_lr_mn": 0.1, "tau_min": -1, "early_stop": "stop"})
    errors = info.value.errors
    assert set(errors) == {"space", "epochs", "w_lr", "batch_size", "download", "w_lr_mn", "tau_min", "early_stop"}
    assert errors["epochs"] == "epochs must be a positive integer, not 0"
    assert errors["w_lr"] == "w_lr must be a positive number, not inf"
    assert errors["batch_size"] == "batch_size must be a positive integer, not 2.5"
    assert errors["download"] == "download must be true or false, not 1"
    assert errors["w_lr_mn"] == "unknown setting 'w_lr_mn'; did you mean 'w_lr_min'?"
    assert errors["space"].startswith("unknown space 'nope'; choose one of: darts, nb201")


def test_searches_and_stand_alone_training_share_one_validator():
    """The two validators used to disagree (one accepted an infinite learning rate): now both are the same."""
    for bad in (float("inf"), float("nan"), True, "0.1"):
        with pytest.raises(ConfigError) as search:
            C.validate_config({"w_lr": bad})
        with pytest.raises(ConfigError) as train:
            validate_eval_config({"lr": bad})
        assert search.value.errors["w_lr"].replace("w_lr", "lr") == train.value.errors["lr"]
    with pytest.raises(ConfigError, match="must not exceed lr"):
        EvalConfig(lr=0.01, lr_min=0.1)


def test_a_check_between_settings_waits_for_both_to_be_valid():
    with pytest.raises(ConfigError) as info:
        C.validate_config({"tau_max": "ten", "tau_min": 2.0})
    assert set(info.value.errors) == {"tau_max"}  # tau_min > tau_max cannot be judged
    with pytest.raises(ConfigError) as info:
        C.validate_config({"tau_max": 1.0, "tau_min": 2.0})
    assert "must not exceed tau_max" in info.value.errors["tau_min"]


def test_the_json_schema_carries_bounds_sources_and_live_choices():
    from nascore.spaces import SpaceSettings

    schema = SpaceSettings.model_json_schema()
    # a space may also be a saved space's name or a document's path: the schema gives their pattern, not an enum
    space = schema["properties"]["space"]
    assert "enum" not in space and space["anyOf"][0] == {"enum": ["darts", "nb201", "s1", "s2", "s3", "s4"]}
    pattern = space["anyOf"][1]["pattern"]
    assert all(re.fullmatch(pattern, name) for name in ["mine", "mine@2", "spaces/fabric.yaml"])
    assert not re.fullmatch(pattern, "Not A Space")
    assert "DARTS" in schema["properties"]["space"]["x-source"]
    channels = schema["properties"]["channels"]["anyOf"][0]
    assert channels == {"type": "integer", "exclusiveMinimum": 0}


def test_cli_flags_come_from_the_models(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # argparse wraps at the terminal's width, and may split "PC-DARTS"
    parser = build_parser()
    search = next(a for a in parser._subparsers._group_actions[0].choices.items() if a[0] == "search")[1]
    flags = {opt for action in search._actions for opt in action.option_strings}
    for name in C.field_names():
        assert "--" + name.replace("_", "-") in flags
    assert "--no-channels-last" in flags
    with pytest.raises(SystemExit):
        main(["search", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps the help
    assert "Partial channels (PC-DARTS)" in text and "PC-DARTS (Xu et al., ICLR 2020)" in text


def test_cli_reports_every_problem_and_exits_2(capsys, tmp_path):
    code = main(["search", "--epochs", "0", "--pc-k", "0", "--space", "nope", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 2
    assert "epochs: epochs must be a positive integer, not 0" in err
    assert "pc_k: pc_k must be a positive integer (PC-DARTS: 4), not 0" in err
    assert "space: unknown space 'nope'" in err
    assert not (tmp_path / "x").exists()


def test_a_component_registered_in_a_test_has_a_flag_and_a_checked_setting(monkeypatch):
    class ToySettings(Settings):
        """A toy component."""

        title = "Toy component"
        toy_strength: float = setting(0.5, "How strong the toy is.", ge=0, le=1, source="this test")

    monkeypatch.setattr(C, "SEARCH_SETTINGS", C.SEARCH_SETTINGS + [ToySettings])
    assert C.validate_config({"toy_strength": 0.25}).toy_strength == 0.25
    with pytest.raises(ConfigError) as info:
        C.validate_config({"toy_strength": 2})
    assert info.value.errors["toy_strength"] == "toy_strength must be a number in [0, 1], not 2"
    search = build_parser()._subparsers._group_actions[0].choices["search"]
    assert "--toy-strength" in {opt for action in search._actions for opt in action.option_strings}


# ---- what was stored before the models ------------------------------------------------------------------
def _fixture_config():
    events = read_events(FIXTURES / "events.jsonl")
    return events[0]["config"]


def test_a_checkpoint_written_before_the_models_resumes_to_the_uninterrupted_result(tmp_path):
    """The fixture folder was written by the code before this change (make_fixture.py): a search cancelled in
    its third epoch, and the same search run to its end.  Resuming it now ends where the old code ended."""
    out = tmp_path / "run"
    out.mkdir()
    shutil.copy(FIXTURES / "checkpoint.pt", out / "checkpoint.pt")
    shutil.copy(FIXTURES / "events.jsonl", out / "events.jsonl")
    stored = _fixture_config()
    assert set(stored) == set(STORED_DEFAULTS)  # today's format: every field of the old dataclass
    resumed = run_search({**stored, "data_dir": str(tmp_path / "data")}, out)
    finished = json.loads((FIXTURES / "finished_result.json").read_text())
    assert resumed.status == "finished"
    # the same training: the same genotype, and alphas equal up to the last digits, which depend on the machine's
    # vector kernels (the fixture was recorded on an AVX-512 machine; an AVX2 one sums in another order), as do the
    # averaged losses
    assert resumed.result["genotype"] == finished["genotype"]
    for cell, rows in finished["alphas"].items():
        assert resumed.result["alphas"][cell] == [pytest.approx(row, abs=5e-6) for row in rows], cell
    assert resumed.result["metrics"] == pytest.approx(finished["metrics"], rel=1e-6)
    seqs = [e["seq"] for e in read_events(out / "events.jsonl")]
    assert seqs == list(range(1, len(seqs) + 1))


def test_a_result_json_written_before_the_models_is_read(tmp_path, capsys):
    """``evaluate --result`` takes an old result.json's genotype and space; its config validates as it is."""
    finished = json.loads((FIXTURES / "finished_result.json").read_text())
    assert C.validate_config({**finished["config"], "data_dir": "data"}).to_dict()["epochs"] == 3
    code = main(["evaluate", "--result", str(FIXTURES / "finished_result.json"), "--epochs", "1", "--channels", "4",
                 "--layers", "3", "--steps-per-epoch", "1", "--batch-size", "8", "--device", "cpu", "--data-dir",
                 str(tmp_path / "data"), "--out", str(tmp_path / "eval"), "--json"])
    assert code == 0
    result = json.loads((tmp_path / "eval" / "result.json").read_text())
    assert result["genotype"] == finished["genotype"]


@pytest.mark.parametrize("kind", ["search", "train"])
def test_the_readme_reference_is_the_generated_one(kind):
    from nascore.settings_docs import markdown, markers

    groups = C.search_settings() if kind == "search" else eval_settings()
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    begin, end = markers(kind)
    shown = readme.split(begin, 1)[1].split(end, 1)[0].strip()
    assert shown == markdown(groups).strip(), f"regenerate with: python -m nascore settings --kind {kind} --markdown"


def test_settings_command_prints_the_reference(capsys):
    assert main(["settings", "--json"]) == 0
    reference = json.loads(capsys.readouterr().out)
    models = {entry["model"]: entry for entry in reference}
    pc = models["nascore.optimizers.components.edges.PartialChannelSettings"]["schema"]["properties"]["pc_k"]
    assert pc["default"] == 4 and pc["exclusiveMinimum"] == 0 and "PC-DARTS" in pc["x-source"]
    assert main(["settings", "--kind", "train"]) == 0
    assert "lr: SGD learning rate" in capsys.readouterr().out
