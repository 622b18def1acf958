"""HPO of any search's settings: ``--param NAME=LOW:HIGH[:log]`` (a number range) or ``--param NAME=A,B,C`` (a
choice) over the settings of a search config, each trial a search of ``max_epochs`` epochs scored by its validation
accuracy after every epoch (the fidelity a pruner cuts), e.g. a DARTS search's weight and architecture learning
rates."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from nascore.hpo.tabular import TrialRun


@dataclass(frozen=True)
class ParamRange:
    """One tuned setting: a number range (``log`` for a log scale) or a list of choices."""

    name: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        if self.choices:
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.integer:
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)  # type: ignore[arg-type]
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)  # type: ignore[arg-type]


def _number(text: str, integer: bool) -> float | int | None:
    try:
        return int(text) if integer else float(text)
    except ValueError:
        return None


def parse_params(specs: Sequence[str], base: Mapping[str, Any]) -> tuple[list[ParamRange], dict[str, str]]:
    """The ranges of ``--param`` specs over a search config ``base``, and every problem as ``{param[i]: message}``:
    a spec without ``=``, an unknown setting, a range on a setting that is no number, a low end not below the high
    one, a log scale that reaches zero, an end the setting itself refuses (its bounds), a setting given twice."""
    from nascore.config import ConfigError, search_settings, validate_config
    from nascore.settings import base_type, fields_of, unknown_message

    fields = fields_of(search_settings())
    out: list[ParamRange] = []
    problems: dict[str, str] = {}
    seen: set[str] = set()
    for i, spec in enumerate(specs):
        where = f"param[{i}]"
        name, sep, rest = spec.partition("=")
        name = name.strip()
        if not sep or not rest or (":" not in rest and "," not in rest):
            problems[where] = f"{spec!r}: write NAME=LOW:HIGH, NAME=LOW:HIGH:log or NAME=A,B,C (one value tunes nothing)"
            continue
        if name not in fields:
            problems[where] = f"{spec!r}: {unknown_message(name, fields)}"
            continue
        if name in seen:
            problems[where] = f"{spec!r}: {name} is tuned twice"
            continue
        seen.add(name)
        kind = base_type(fields[name][1])
        if ":" in rest:
            parts = rest.split(":")
            log = len(parts) == 3 and parts[2] == "log"
            if len(parts) not in (2, 3) or (len(parts) == 3 and not log) or kind not in (int, float):
                problems[where] = (f"{spec!r}: a range LOW:HIGH[:log] needs a number setting" if kind not in (int, float)
                                   else f"{spec!r}: write LOW:HIGH or LOW:HIGH:log")
                continue
            low, high = _number(parts[0], kind is int), _number(parts[1], kind is int)
            if low is None or high is None:
                problems[where] = f"{spec!r}: {name} takes {'integers' if kind is int else 'numbers'}"
            elif low >= high:
                problems[where] = f"{spec!r}: the low end must be below the high end"
            elif log and low <= 0:
                problems[where] = f"{spec!r}: a log scale needs a low end above 0"
            else:
                candidate = ParamRange(name, low, high, log, kind is int)
                values = (low, high)
        else:
            parsed = [_number(v, kind is int) if kind in (int, float) else v.strip() for v in rest.split(",")]
            if any(v is None for v in parsed) or len(set(parsed)) < 2:
                problems[where] = f"{spec!r}: give two or more distinct choices of {name}'s type"
            else:
                candidate = ParamRange(name, choices=tuple(parsed))
                values = tuple(parsed)
        if where in problems:
            continue
        for value in values:
            try:
                validate_config({**base, name: value}, check_device=False)
            except ConfigError as exc:
                if name in exc.errors:
                    problems[where] = f"{spec!r}: {exc.errors[name]}"
                    break
        else:
            out.append(candidate)
    return out, problems


class ConfigProblem:
    """Each trial a search: the base config with the trial's values and ``max_epochs`` epochs."""

    title = ("settings of a search config (--config FILE) over ranges (--param NAME=LOW:HIGH[:log] or NAME=A,B,C), "
             "each trial a search scored by its validation accuracy")

    def __init__(self, cfg: Mapping[str, Any], out: Path | None):
        from nascore.config import load_config_file

        self.cfg = cfg
        self.base = load_config_file(cfg["config"])
        self.ranges, _ = parse_params(cfg["param"], self.base)
        self.folder = out if out is not None else Path(tempfile.mkdtemp(prefix="nasboard-hpo-"))

    @property
    def dataset(self) -> str:
        return str(self.base.get("dataset", "digits"))

    def suggest(self, trial: Any) -> dict[str, Any]:
        return {r.name: r.suggest(trial) for r in self.ranges}

    def run(self, params: dict[str, Any], number: int, seed: int, after_epoch: Callable[[int, float], bool],
            stop: Callable[[], bool]) -> TrialRun:
        from nascore.runner import run_search

        run = TrialRun()
        cut = {"now": False}

        def sink(seq: int, event: dict) -> None:
            if event.get("type") == "epoch":
                run.curve.append(float(event["val_acc"]))
                cut["now"] = after_epoch(int(event["epoch"]), float(event["val_acc"]))

        # the base's own data folder, else the study's (a dashboard study's base is a stored search config, which
        # names none: the worker's folder is the study's)
        config = {"data_dir": self.cfg["data_dir"], **self.base, **params, "epochs": self.cfg["max_epochs"],
                  "seed": seed}
        run_search(config, self.folder / f"trial-{number}", sinks=[sink], stop_check=lambda: cut["now"] or stop(),
                   resume=False)
        return run

    def baselines(self) -> dict[str, Any]:
        return {}
