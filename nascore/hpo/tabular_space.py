"""Auto-PyTorch Tabular's joint architecture and hyperparameter space (Zimmer, Lindauer and Hutter, "Auto-PyTorch
Tabular: Multi-Fidelity MetaLearning for Efficient and Robust AutoDL", TPAMI 2021, table 1; automl/Auto-PyTorch,
autoPyTorch/components/networks/feature/{shapedmlpnet,shapedresnet}.py), asked of an Optuna trial.

Conditional parameters are asked only where their parent is chosen (an MLP's layers only for an MLP, SGD's momentum
only for SGD, mixup's alpha only with mixup, the SVD's dimension only with the SVD), so the study's trials record
exactly the settings their network used.
"""
from __future__ import annotations

from typing import Any

#: each range as the paper gives it: (low, high, log)
RANGES: dict[str, tuple[float, float, bool]] = {
    "mlp_layers": (1, 6, False),
    "mlp_max_units": (64, 1024, True),
    "mlp_max_dropout": (0.0, 1.0, False),
    "resnet_groups": (1, 5, False),
    "resnet_blocks_per_group": (1, 3, False),
    "resnet_max_units": (32, 512, True),
    "resnet_max_dropout": (0.0, 1.0, False),
    "resnet_max_shake_drop": (0.0, 1.0, False),
    "batch_size": (16, 512, True),
    "lr": (1e-4, 1e-1, True),
    "l2": (1e-5, 1e-1, False),
    "momentum": (0.1, 0.999, False),
    "mixup_alpha": (0.0, 1.0, False),
    "svd_dim": (10, 256, False),
}


def _int(trial: Any, name: str) -> int:
    low, high, log = RANGES[name]
    return trial.suggest_int(name, int(low), int(high), log=log)


def _float(trial: Any, name: str) -> float:
    low, high, log = RANGES[name]
    return trial.suggest_float(name, low, high, log=log)


def suggest(trial: Any, num_features: int) -> dict[str, Any]:
    """One configuration of the space from ``trial`` (an ``optuna.Trial``), conditional parameters included only
    where they apply.  The SVD's target dimension is capped below the number of features (it must reduce)."""
    params: dict[str, Any] = {"network": trial.suggest_categorical("network", ["mlp", "resnet"])}
    if params["network"] == "mlp":
        params.update(layers=_int(trial, "mlp_layers"), max_units=_int(trial, "mlp_max_units"),
                      max_dropout=_float(trial, "mlp_max_dropout"))
    else:
        params.update(groups=_int(trial, "resnet_groups"), blocks_per_group=_int(trial, "resnet_blocks_per_group"),
                      max_units=_int(trial, "resnet_max_units"))
        if trial.suggest_categorical("resnet_use_dropout", [False, True]):
            params["max_dropout"] = _float(trial, "resnet_max_dropout")
        if trial.suggest_categorical("resnet_use_shake_drop", [False, True]):
            params["max_shake_drop"] = _float(trial, "resnet_max_shake_drop")
        params["shake_shake"] = trial.suggest_categorical("resnet_use_shake_shake", [False, True])
    params["batch_size"] = _int(trial, "batch_size")
    params["optimizer"] = trial.suggest_categorical("optimizer", ["sgd", "adam"])
    params["lr"] = _float(trial, "lr")
    params["l2"] = _float(trial, "l2")
    if params["optimizer"] == "sgd":
        params["momentum"] = _float(trial, "momentum")
    params["training"] = trial.suggest_categorical("training", ["standard", "mixup"])
    if params["training"] == "mixup":
        params["mixup_alpha"] = _float(trial, "mixup_alpha")
    params["preprocessing"] = trial.suggest_categorical("preprocessing", ["none", "truncated_svd"])
    if params["preprocessing"] == "truncated_svd":
        low, high, _ = RANGES["svd_dim"]
        top = max(1, min(int(high), num_features - 1))
        params["svd_dim"] = trial.suggest_int("svd_dim", min(int(low), top), top)
    return params
