"""A hyperparameter study on Optuna: its settings (declared once, so the CLI's flags come from them), the samplers
and pruners by name, and the run that writes ``result.json``.

Joint architecture and hyperparameter optimisation of tabular networks (Auto-PyTorch Tabular's space) with TPE and
Hyperband is Optuna's BOHB-like setting: TPE proposes, Hyperband stops the trials whose validation accuracy after
``min_epochs``, 3 x ``min_epochs``, ... epochs falls behind their bracket (Li et al., 2018; Falkner et al., 2018).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from nascore.device import DEVICE_CHOICES
from nascore.hpo.config_problem import ConfigProblem
from nascore.hpo.nas_problems import NAS_CHANNELS, JointProblem, RetrainProblem
from nascore.hpo.tabular_data import table_names
from nascore.settings import Settings, setting
from nascore.userdata import CSV_PREFIX, FOLDER_PREFIX, USER_NAME_PATTERN, USER_NAME_TEXT

#: samplers by name: (what it is, its constructor from the study's seed)
SAMPLERS: dict[str, tuple[str, Callable[[int], Any]]] = {}
#: pruners by name: (what it is, its constructor from the minimum and maximum epochs)
PRUNERS: dict[str, tuple[str, Callable[[int, int], Any]]] = {}


def _register() -> None:
    import optuna

    SAMPLERS.update({
        # constant liar: trials running on other workers count as bad ones, so parallel workers do not propose the
        # same configuration (Optuna's advice for distributed TPE); one trial at a time nothing runs, nothing changes
        "tpe": ("TPE (Bergstra et al., 2011), Optuna's default",
                lambda seed: optuna.samplers.TPESampler(seed=seed, constant_liar=True)),
        "random": ("uniform random sampling", lambda seed: optuna.samplers.RandomSampler(seed=seed)),
        "cmaes": ("CMA-ES on the continuous parameters, the rest sampled at random",
                  lambda seed: optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)),
    })
    PRUNERS.update({
        "hyperband": ("Hyperband over epochs (Li et al., 2018)",
                      lambda lo, hi: optuna.pruners.HyperbandPruner(min_resource=lo, max_resource=hi)),
        "sha": ("asynchronous successive halving (Li et al., 2020)",
                lambda lo, hi: optuna.pruners.SuccessiveHalvingPruner(min_resource=lo)),
        "median": ("stop a trial below the median of earlier trials at the same epoch",
                   lambda lo, hi: optuna.pruners.MedianPruner(n_warmup_steps=lo)),
        "none": ("no pruning: every trial runs max_epochs", lambda lo, hi: optuna.pruners.NopPruner()),
    })


_register()


class StudySettings(Settings):
    """What a study tunes, how long, and how it searches."""

    title = "Hyperparameter study"

    problem: str = setting("tabular", "What the study tunes.", source="NASBoard's choice", choices=lambda: {k: c.title for k, c in PROBLEMS.items()},
                           basic=True)
    dataset: str | None = setting(None, "The data: for problem tabular a bundled table (breast_cancer, wine, "
                                  "digits_table) or csv:NAME in data_dir; for retrain and joint an image dataset (a "
                                  "built-in one, or folder:NAME in data_dir); problem config reads its config's.",
                                  source="NASBoard's choice: offline data (scikit-learn's breast cancer table, its "
                                         "8x8 digits)",
                                  choices=lambda: dataset_choices(), pattern=USER_NAME_PATTERN,
                                  pattern_text=USER_NAME_TEXT,
                                  none_means="breast_cancer for problem tabular, digits for retrain and joint",
                                  basic=True)
    data_dir: str = setting("data", "The folder csv:NAME tables, folder:NAME images and torchvision datasets are "
                                    "read from.", min_length=1, expects="a folder path", source="NASBoard's choice")
    target: str | None = setting(None, "A CSV table's target column.", min_length=1,
                                 none_means="the table's nasboard.yaml, else a column named target",
                                 source="NASBoard's choice")
    space: str | None = setting(None, "problems retrain and joint: the search space of the architecture (a built-in, "
                                      "a saved space or a space document).", min_length=1,
                                none_means="none (problem tabular or config)", source="NASBoard's choice")
    genotype: str | None = setting(None, "problem retrain: the architecture whose training is tuned, as evaluate takes "
                                         "it (a published name such as darts_v2, a JSON genotype, an nb201 string or "
                                         "a JSON file).", min_length=1, none_means="none (other problems)",
                                   source="NASBoard's choice")
    channels: int | None = setting(None, "problems retrain and joint: initial channels of each trial's network.",
                                   gt=0, none_means=f"{NAS_CHANNELS} (a network that trains in seconds on a CPU)",
                                   source="NASBoard's choice")
    layers: int | None = setting(None, "problems retrain and joint: cells of each trial's network (nb201: cells per "
                                       "stage).", gt=0, none_means="the fewest the space builds (darts: 3, nb201: 1)",
                                 source="NASBoard's choice")
    steps_per_epoch: int | None = setting(None, "problems retrain and joint: batches per epoch of a trial.", gt=0,
                                          none_means="one pass over the search data's train split",
                                          source="NASBoard's choice")
    device: str = setting("auto", "problems retrain and joint: where trials train: auto (CUDA when present), cpu, "
                                  "cuda or cuda:N.", choices=DEVICE_CHOICES, pattern=r"cuda:\d+",
                          pattern_text="cuda:N", source="NASBoard's choice")
    trials: int = setting(50, "How many configurations the study tries.", gt=0, le=100000,
                          source="NASBoard's choice", basic=True)
    min_epochs: int = setting(2, "The fewest epochs a trial runs before a pruner may stop it (Hyperband's minimum "
                                 "resource).", gt=0, source="NASBoard's choice", basic=True)
    max_epochs: int = setting(20, "The epochs of a trial that is never stopped.", gt=0, le=10000,
                              source="NASBoard's choice", basic=True)
    sampler: str = setting("tpe", "How the next configuration is proposed.", source="Optuna's default (TPE)",
                           choices=lambda: {k: f"{k}: {v[0]}" for k, v in SAMPLERS.items()}, basic=True)
    pruner: str = setting("hyperband", "Which trials stop early, on their validation accuracy per epoch.",
                          source="Optuna's BOHB-like setting with TPE",
                          choices=lambda: {k: f"{k}: {v[0]}" for k, v in PRUNERS.items()}, basic=True)
    seed: int = setting(0, "Seed of the sampler and of every trial's training: one trial at a time, the same study.",
                        ge=0, source="NASBoard's choice", basic=True)
    ensemble: int | None = setting(None, "problem tabular: combine the networks of the best K complete trials by "
                                         "greedy ensemble selection (50 rounds, with replacement), as Auto-PyTorch "
                                         "Tabular does.", gt=0, le=100, none_means="no ensemble",
                                   source="NASBoard's choice: off, so a study's figures are its best single "
                                          "network's (Auto-PyTorch Tabular builds the ensemble by default)")
    config: str | None = setting(None, "problem config: the search config (JSON or YAML) whose settings are tuned.",
                                 min_length=1, expects="a file path", none_means="none (problem tabular)",
                                 source="NASBoard's choice")
    param: list[str] = setting([], "problem config: a tuned setting, NAME=LOW:HIGH, NAME=LOW:HIGH:log or "
                                   "NAME=A,B,C (give the flag once per setting).", source="NASBoard's choice")

    @classmethod
    def checks(cls, config: Mapping[str, Any]) -> dict[str, str]:
        errors = {}
        if config["min_epochs"] > config["max_epochs"]:
            errors["min_epochs"] = (f"min_epochs ({config['min_epochs']}) must not exceed max_epochs "
                                    f"({config['max_epochs']})")
        if "problem" not in config:  # an unknown problem, already reported
            return errors
        problem = config["problem"]
        if "dataset" in config:
            errors.update(dataset_errors(problem, config["dataset"]))
        for name, owners in PROBLEM_SETTINGS.items():
            if name in config and config[name] is not None and problem not in owners:
                errors[name] = f"{name} belongs to problem {' and '.join(owners)}, not {problem}"
        errors.update(getattr(PROBLEMS[problem], "check_settings", lambda c: {})(config))
        if config["problem"] != "config":
            for name in ("config", "param"):
                if config.get(name):
                    errors[name] = f"{name} belongs to problem config, not {config['problem']}"
            return errors
        if not config["param"]:
            errors["param"] = "problem config tunes at least one setting: --param NAME=LOW:HIGH"
        if not config["config"]:
            errors["config"] = "problem config needs the search config to tune (--config FILE)"
            return errors
        from nascore.config import ConfigError, load_config_file, validate_config
        from nascore.hpo.config_problem import parse_params

        try:
            base = load_config_file(config["config"])
            validate_config(base, check_device=False)
        except ConfigError as exc:
            errors["config"] = "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
            return errors
        errors.update(parse_params(config["param"], base)[1])
        return errors


#: settings only some problems read: given to another, they are an error
PROBLEM_SETTINGS: dict[str, tuple[str, ...]] = {name: ("retrain", "joint") for name in
                                                ("space", "channels", "layers", "steps_per_epoch")}
PROBLEM_SETTINGS["genotype"] = ("retrain",)
PROBLEM_SETTINGS["target"] = ("tabular",)
PROBLEM_SETTINGS["ensemble"] = ("tabular",)


def dataset_choices() -> dict[str, str]:
    """Every dataset a study may name: the bundled tables and the built-in image datasets."""
    from nascore.data import DATASETS

    return {**{name: f"table: {title}" for name, title in table_names().items()},
            **{name: f"images: {spec.title}" for name, spec in sorted(DATASETS.items())}}


def study_dataset(cfg: Mapping[str, Any]) -> str:
    """The dataset a study reads: the one named, else its problem's default (problem config: its config's)."""
    if cfg.get("dataset"):
        return str(cfg["dataset"])
    return getattr(PROBLEMS.get(cfg.get("problem", "tabular")), "default_dataset", "breast_cancer")


def dataset_errors(problem: str, name: str | None) -> dict[str, str]:
    """Whether problem ``problem`` can read the dataset ``name``: tables for tabular, images for retrain and joint
    (what the problem class's ``reads`` says); problem config reads its config's dataset, so names none."""
    from nascore.data import DATASETS

    reads = getattr(PROBLEMS.get(problem), "reads", None)
    if name is None:
        return {}
    if reads is None:
        return {"dataset": f"problem {problem} reads the dataset of its config; leave dataset out"}
    is_table = name in table_names() or name.startswith(CSV_PREFIX)
    is_images = name in DATASETS or name.startswith(FOLDER_PREFIX)
    if reads == "tables" and not is_table:
        return {"dataset": f"problem {problem} trains on tables, and {name!r} is an image dataset; use a bundled "
                           f"table ({', '.join(table_names())}) or csv:NAME"}
    if reads == "images" and not is_images:
        return {"dataset": f"problem {problem} trains an image network, and {name!r} is a table; use an image "
                           f"dataset ({', '.join(sorted(DATASETS))}) or folder:NAME"}
    return {}


def validate_study(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The full study settings, or ConfigError naming every problem."""
    from nascore.settings import validate_settings

    return validate_settings([StudySettings], raw)


def study_name(cfg: Mapping[str, Any]) -> str:
    """The name a stand-alone study gets: Hyperband assigns trials to brackets by a hash of the study's name and the
    trial's number, so a name of the seed's (not Optuna's random one) makes the study repeat."""
    return f"nasboard-{cfg['problem']}-s{cfg['seed']}"


def open_study(cfg: Mapping[str, Any], storage: Any = None, name: str | None = None) -> Any:
    """The Optuna study of validated settings ``cfg``: created, or loaded when ``storage`` already holds ``name``
    (any Optuna storage: in memory by default, an RDB URL to share the study between workers)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(direction="maximize", study_name=name or study_name(cfg), storage=storage,
                               load_if_exists=True, sampler=SAMPLERS[cfg["sampler"]][1](cfg["seed"]),
                               pruner=PRUNERS[cfg["pruner"]][1](cfg["min_epochs"], cfg["max_epochs"]))


def trial_seed(cfg: Mapping[str, Any], number: int) -> int:
    """The training seed of trial ``number``: the study's seed and the trial's number, nothing else."""
    return cfg["seed"] * 100003 + number


def run_trial(study: Any, problem: Any, cfg: Mapping[str, Any], stop: Callable[[], bool] = lambda: False,
              trial: Any = None) -> tuple[int, str]:
    """Ask ``study`` for a trial (or run the given one), train it, report its validation accuracy after every epoch
    (``trial.report``, the pruner's input and the learning curve), and tell the study how it ended: ``complete``
    (all ``max_epochs`` epochs), ``pruned`` (stopped by the pruner, or by ``stop()`` before the end) or ``failed``
    (the training raised RuntimeError or ValueError, e.g. a diverged loss; the reason is the trial's ``error``
    attribute).  Returns the trial's number and that state."""
    import optuna

    trial = trial if trial is not None else study.ask()
    try:
        params = problem.suggest(trial)

        def after_epoch(epoch: int, acc: float) -> bool:
            trial.report(acc, epoch)
            return trial.should_prune()

        run = problem.run(params, trial.number, trial_seed(cfg, trial.number), after_epoch, stop)
    except (RuntimeError, ValueError) as exc:
        trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return trial.number, "failed"
    trial.set_user_attr("test_acc", run.test_acc)
    trial.set_user_attr("epochs", len(run.curve))
    for key, value in run.attrs.items():
        trial.set_user_attr(key, value)
    if run.value is None or len(run.curve) < cfg["max_epochs"]:
        # stopped by the pruner, or before its last epoch by a cancelled study; its last report is its value
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        return trial.number, "pruned"
    study.tell(trial, run.value)
    return trial.number, "complete"


def run_study(raw: Mapping[str, Any], out: str | Path | None = None,
              progress: Callable[[int, int], None] = lambda done, total: None,
              stop: Callable[[], bool] = lambda: False) -> dict[str, Any]:
    """Run a study to its end (or until ``stop()``), one trial at a time in memory, write ``out/result.json`` when
    ``out`` is given, and return it.

    ``result.json``: ``best_value`` (the best validation accuracy, a fraction), ``best_params``, ``best_test_acc``
    (that trial's test accuracy, never optimised on), ``trials`` (number, state complete/pruned/failed, value,
    params, epochs run, validation curve), ``epochs`` (all trials' epochs together), ``baselines`` and the settings.
    """
    cfg = validate_study(raw)
    problem = make_problem(cfg, Path(out) if out is not None else None)
    study = open_study(cfg)
    started = time.time()
    for _ in range(cfg["trials"]):
        if stop():
            break
        run_trial(study, problem, cfg, stop)
        progress(len(study.trials), cfg["trials"])
    seconds = round(time.time() - started, 2)  # the trials' time, without the baselines' and the ensemble's
    result = conclude(study, problem, cfg)
    result["seconds"] = seconds
    if out is not None:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "result.json").write_text(json.dumps(result, indent=2))
    return result


def conclude(study: Any, problem: Any, cfg: Mapping[str, Any]) -> dict[str, Any]:
    """A finished study's result, wherever its trials ran: :func:`summarize`, the dataset, the problem's baselines
    on the same split, what a final retrain of the best trial needs (``final``: problems retrain and joint) and the
    ensemble of the best trials where asked for (``ensemble``: problem tabular)."""
    result = summarize(study, cfg)
    result["dataset"] = problem.dataset
    result["baselines"] = problem.baselines()
    if hasattr(problem, "final"):
        result["final"] = problem.final(result["best_params"]) if result["best_params"] is not None else None
    if cfg.get("ensemble") and hasattr(problem, "ensemble"):
        result["ensemble"] = problem.ensemble(result["trials"], cfg["ensemble"])
    return result


class TabularProblem:
    """Each trial a network of Auto-PyTorch Tabular's space trained on the table's fixed split."""

    title = ("joint architecture and hyperparameter optimisation of a tabular network (Auto-PyTorch Tabular's space) "
             "on a table's fixed split")
    reads = "tables"
    default_dataset = "breast_cancer"

    def __init__(self, cfg: Mapping[str, Any], out: Path | None):
        from nascore.hpo.tabular_data import load_split

        self.cfg = cfg
        self.dataset = study_dataset(cfg)
        self.split = load_split(self.dataset, cfg["data_dir"], cfg["target"])

    def suggest(self, trial: Any) -> dict[str, Any]:
        from nascore.hpo.tabular_space import suggest

        return suggest(trial, self.split.num_features)

    def run(self, params: dict[str, Any], number: int, seed: int, after_epoch: Callable[[int, float], bool],
            stop: Callable[[], bool]) -> Any:
        from nascore.hpo.tabular import train_configuration

        return train_configuration(params, self.split, self.cfg["max_epochs"], seed=seed, after_epoch=after_epoch,
                                   stop=stop)

    def baselines(self) -> dict[str, Any]:
        from nascore.hpo.tabular import baselines

        return baselines(self.split, self.cfg["seed"])

    def ensemble(self, trials: list[dict[str, Any]], nbest: int) -> dict[str, Any] | None:
        from nascore.hpo.ensemble import build_ensemble

        return build_ensemble(trials, self.split, self.cfg, nbest,
                              seed_of=lambda number: trial_seed(self.cfg, number))


#: the problems a study may tune, by name: each knows how to propose, run and compare a trial
PROBLEMS: dict[str, Any] = {"tabular": TabularProblem, "config": ConfigProblem, "retrain": RetrainProblem,
                             "joint": JointProblem}


def make_problem(cfg: Mapping[str, Any], out: Path | None) -> Any:
    """The problem a study's settings name, ready to run."""
    return PROBLEMS[cfg["problem"]](cfg, out)


STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running",
          "WAITING": "waiting"}


def trial_record(t: Any) -> dict[str, Any]:
    """One trial as result.json (and the dashboard) shows it; its learning curve is its reported values by epoch."""
    curve = [t.intermediate_values[e] for e in sorted(t.intermediate_values)]
    value = t.value if t.value is not None else (curve[-1] if curve else None)
    return {"number": t.number, "state": STATES.get(t.state.name, t.state.name.lower()), "value": value,
            "params": dict(t.params), "epochs": t.user_attrs.get("epochs", len(curve)), "curve": curve,
            "test_acc": t.user_attrs.get("test_acc"),
            **{k: v for k, v in t.user_attrs.items() if k not in ("epochs", "test_acc")}}


def summarize(study: Any, cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The study as result.json holds it, read from its storage alone (so any worker, or the dashboard, can)."""
    trials = [trial_record(t) for t in study.trials]
    complete = [t for t in trials if t["state"] == "complete"]
    best = max(complete, key=lambda t: (t["value"], -t["number"])) if complete else None
    return {"problem": cfg["problem"], "dataset": cfg["dataset"], "settings": dict(cfg),
            "best_value": best["value"] if best else None, "best_params": best["params"] if best else None,
            "best_trial": best["number"] if best else None, "best_test_acc": best["test_acc"] if best else None,
            "trials": trials, "epochs": sum(t["epochs"] for t in trials),
            "states": {s: sum(t["state"] == s for t in trials) for s in ("complete", "pruned", "failed")}}
