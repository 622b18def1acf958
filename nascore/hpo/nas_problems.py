"""Studies of an image network's architecture and training: ``--problem retrain`` and ``--problem joint``.

* ``retrain`` (NAS then HPO): the architecture is fixed (a genotype of a space, found by a search or published) and
  the study tunes the stand-alone training of its network, as Auto-DispNet does after its architecture search
  (Saikia et al., "AutoDispNet: Improving Disparity Estimation With AutoML", ICCV 2019: DARTS-like cell search,
  then BOHB on the training hyperparameters of the found network).
* ``joint``: the architecture's choices on a cell space are categorical parameters of the same study, next to the
  training hyperparameters (:meth:`~nascore.spaces.architectures.OneOpPerEdge.suggest` names them).

Every trial trains its network from scratch on the search data's train split and is scored on its validation split
after each epoch (:func:`~nascore.evaluation.split_training.train_on_search_split`, what the selection stage
retrains with): epochs are the fidelity a pruner cuts, and the test set is never read.  The training parameters
are named exactly as the stand-alone training settings they set
(:class:`~nascore.evaluation.train.StandaloneTrainingSettings`), so a study's ``best_params`` (through
:meth:`RetrainProblem.final`) feed a final ``evaluate`` run directly.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from nascore.hpo.tabular import TrialRun
from nascore.spaces.genotypes import genotype_from_text

if TYPE_CHECKING:
    from nascore.data import SearchData
    from nascore.spaces.base import SearchSpace

#: channels of a trial's network when the study names none: small enough to train in seconds on a CPU
NAS_CHANNELS = 8
#: the search data's split: half the training set trains, half validates (DARTS, section 3.1 / A.1)
TRAIN_PORTION = 0.5
#: the batch sizes a study tries (DARTS trains with 96; 64 is its search's)
BATCH_SIZES = (32, 64, 96, 128)
#: the continuous training parameters: (low, high, log scale); names are stand-alone training settings
RANGES: dict[str, tuple[float, float, bool]] = {
    "lr": (1e-3, 0.2, True),
    "momentum": (0.5, 0.99, False),
    "weight_decay": (1e-5, 1e-2, True),
    "drop_path": (0.0, 0.4, False),
}
#: the auxiliary head's loss weight, tuned where the network has the head
AUXILIARY_WEIGHT = (0.0, 1.0)


def cutout_choices(image_size: int) -> list[int]:
    """Cutout lengths a study tries on images of side ``image_size``: none, a quarter and half of the side (DARTS,
    section A.2: 16 on 32x32 CIFAR-10, half the side)."""
    return sorted({0, max(2, image_size // 4), max(2, image_size // 2)})


def genotype_from_params(space: SearchSpace, params: Mapping[str, Any]) -> Any:
    """The genotype of a joint study's trial from its parameters (the ``arch.*`` ones; others are ignored); raises
    ValueError naming a missing parameter or a value that is not one of its choices."""

    def ask(name: str, choices: list[str]) -> Any:
        if name not in params:
            raise ValueError(f"parameter {name} is missing")
        if params[name] not in choices:
            raise ValueError(f"parameter {name} is {params[name]!r}, not one of {choices}")
        return params[name]

    edges = {ct: space.edges(ct) for ct in space.cell_types}
    return space.genotype_of_path(space.architecture_rule().suggest(ask, space.ops, edges))


def params_of_genotype(space: SearchSpace, genotype: Any) -> dict[str, str]:
    """The ``arch.*`` parameters that make ``genotype`` (inverse of :func:`genotype_from_params`)."""
    edges = {ct: space.edges(ct) for ct in space.cell_types}
    return space.architecture_rule().trial_values(space.path_of(genotype), space.ops, edges)


def _space_errors(config: Mapping[str, Any], problem: str) -> tuple[SearchSpace | None, dict[str, str]]:
    from nascore.spaces import get_space, space_problem

    if not config.get("space"):
        return None, {"space": f"problem {problem} needs a search space (--space darts, nb201, ...)"}
    found = space_problem(config["space"])
    if found:
        return None, {"space": found}
    space = get_space(config["space"])
    errors = space.check_size(config.get("channels"), config.get("layers"))
    return space, errors


class RetrainProblem:
    """NAS then HPO: the stand-alone training of one architecture, each trial a short training from scratch."""

    title = ("NAS then HPO: the training hyperparameters of one architecture (--space, --genotype), each trial a "
             "training on the search data's train split scored on its validation split")
    reads = "images"
    default_dataset = "digits"

    def __init__(self, cfg: Mapping[str, Any], out: Path | None):
        from nascore.data import get_spec
        from nascore.device import resolve_device
        from nascore.spaces import get_space

        self.cfg = cfg
        self.space = get_space(cfg["space"])
        self.dataset = cfg["dataset"] or self.default_dataset
        self.spec = get_spec(self.dataset, cfg["data_dir"])
        self.channels = cfg["channels"] or NAS_CHANNELS
        self.layers = cfg["layers"] or self.space.min_layers
        self.device = resolve_device(cfg["device"])
        self.genotype = self.fixed_genotype()
        self.auxiliary = self._has_auxiliary()
        self.cutouts = cutout_choices(self.spec.image_size)
        #: what the trials read: the search data's train and validation splits (the test set never)
        self.data_reads: list[str] = []

    @classmethod
    def check_settings(cls, config: Mapping[str, Any]) -> dict[str, str]:
        """Every problem of the settings for this problem, as ``{setting: message}``."""
        space, errors = _space_errors(config, "retrain")
        if not config.get("genotype"):
            errors["genotype"] = "problem retrain needs the architecture to tune (--genotype NAME, JSON or a file)"
        elif space is not None:
            from nascore.spaces.genotypes import GenotypeError

            try:
                space.resolve(genotype_from_text(config["genotype"]))
            except (GenotypeError, ValueError, TypeError) as exc:
                errors["genotype"] = f"not a genotype of the {space.name} space: {exc}"
        return errors

    def fixed_genotype(self) -> Any:
        return self.space.resolve(genotype_from_text(self.cfg["genotype"]))

    def _has_auxiliary(self) -> bool:
        """Whether the space's network has DARTS's auxiliary head at this size (then its weight is tuned)."""
        import torch

        genotype = self.genotype if self.genotype is not None else self.space.genotype_of_path(
            self.space.architecture_rule().sample(torch.Generator().manual_seed(0)))
        with torch.random.fork_rng(devices=[]):
            model = self.space.build_network(genotype, self.channels, self.layers, self.spec.in_channels,
                                             self.spec.num_classes, auxiliary=True)
        return getattr(model, "auxiliary", None) is not None

    # ---- a trial ------------------------------------------------------------------------------------------------
    def suggest_training(self, trial: Any) -> dict[str, Any]:
        """The stand-alone training settings of a trial, each parameter named as the setting it sets."""
        params: dict[str, Any] = {name: trial.suggest_float(name, low, high, log=log)
                                  for name, (low, high, log) in RANGES.items()}
        params["batch_size"] = trial.suggest_categorical("batch_size", list(BATCH_SIZES))
        params["cutout_length"] = trial.suggest_categorical("cutout_length", self.cutouts)
        if self.auxiliary:
            params["auxiliary_weight"] = trial.suggest_float("auxiliary_weight", *AUXILIARY_WEIGHT)
        return params

    def suggest(self, trial: Any) -> dict[str, Any]:
        return self.suggest_training(trial)

    def genotype_of(self, params: Mapping[str, Any]) -> Any:
        """The architecture a trial of ``params`` trains."""
        return self.genotype

    def training(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The stand-alone training settings ``params`` set (the auxiliary head on where it is tuned)."""
        train = {name: params[name] for name in (*RANGES, "batch_size", "cutout_length") if name in params}
        train["auxiliary"] = self.auxiliary
        if self.auxiliary:
            train["auxiliary_weight"] = params["auxiliary_weight"]
        return train

    def final(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """What a final retrain of a trial needs: the space, the genotype (JSON-able) and the stand-alone training
        settings (for ``evaluate --space S --genotype G`` with these settings, on the full training set)."""
        return {"space": self.cfg["space"], "genotype": self.genotype_of(params), "train": self.training(params)}

    def search_data(self, batch_size: int) -> SearchData:
        """The search data's two splits of the training set at ``batch_size``, fixed by the study's seed (every trial
        the same split and batch order), augmented as a search on the dataset is by default."""
        from nascore.data import default_augment_of, search_loaders

        self.data_reads.append("search_split")
        return search_loaders(self.dataset, self.cfg["data_dir"], False, batch_size, train_portion=TRAIN_PORTION,
                              seed=self.cfg["seed"], device=self.device, augment=default_augment_of(self.dataset))

    def run(self, params: dict[str, Any], number: int, seed: int, after_epoch: Callable[[int, float], bool],
            stop: Callable[[], bool]) -> TrialRun:
        """Train the trial's network for up to ``max_epochs`` epochs (cosine schedule and drop-path over all of them:
        a pruned trial is the beginning of a full one), its validation accuracy after each epoch reported to
        ``after_epoch``, which says whether to stop there."""
        from nascore.evaluation.split_training import train_on_search_split
        from nascore.evaluation.train import EvalConfig

        data = self.search_data(params["batch_size"])
        steps = self.cfg["steps_per_epoch"] or data.steps_per_epoch
        cfg = EvalConfig(space=self.cfg["space"], dataset=self.dataset, data_dir=self.cfg["data_dir"],
                         epochs=self.cfg["max_epochs"], channels=self.channels, layers=self.layers, augment=False,
                         seed=seed, device=str(self.device), steps_per_epoch=steps, **self.training(params))
        run = TrialRun()
        cut = {"now": False}

        def on_epoch(epoch: int, metrics: dict[str, Any]) -> None:
            run.curve.append(float(metrics["val_acc"]))
            cut["now"] = bool(after_epoch(epoch, float(metrics["val_acc"])))

        train_on_search_split(self.space, self.genotype_of(params), cfg, data, steps, self.device,
                              stop_check=lambda: cut["now"] or stop(), on_epoch=on_epoch)
        return run

    def baselines(self) -> dict[str, Any]:
        return {}


class JointProblem(RetrainProblem):
    """Joint NAS + HPO on a cell space: each trial an architecture of the space (its choices categorical
    parameters ``arch.*``) and its training hyperparameters, trained from scratch."""

    title = ("joint NAS + HPO on a cell space (--space): the architecture's choices and the training "
             "hyperparameters, each trial a training on the search data's train split scored on its validation split")

    @classmethod
    def check_settings(cls, config: Mapping[str, Any]) -> dict[str, str]:
        return _space_errors(config, "joint")[1]

    def fixed_genotype(self) -> Any:
        return None

    def suggest(self, trial: Any) -> dict[str, Any]:
        edges = {ct: self.space.edges(ct) for ct in self.space.cell_types}
        columns = self.space.architecture_rule().suggest(trial.suggest_categorical, self.space.ops, edges)
        params = {name: value for name, value in trial.params.items()}
        genotype = self.space.genotype_of_path(columns)
        trial.set_user_attr("genotype", genotype)  # result.json's trials show it (JSON-able)
        return {**params, **self.suggest_training(trial)}

    def genotype_of(self, params: Mapping[str, Any]) -> Any:
        return genotype_from_params(self.space, params)
