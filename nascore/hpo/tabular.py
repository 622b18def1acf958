"""Training one configuration of Auto-PyTorch Tabular's space on a tabular split, epoch by epoch (the fidelity a
multi-fidelity pruner cuts), and the reference baselines on the same split."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from nascore.hpo.tabular_data import TabularSplit
from nascore.hpo.tabular_models import build_model


@dataclass
class TrialRun:
    """What one configuration did: validation accuracy after each epoch it ran, and the test accuracy of its
    last epoch (reported, never optimised)."""

    curve: list[float] = field(default_factory=list)
    test_acc: float | None = None
    #: more of the trial to keep with it in the study (e.g. a joint trial's genotype), JSON values by name
    attrs: dict[str, Any] = field(default_factory=dict)
    #: the last epoch's class probabilities on the validation and test rows, when asked for (an ensemble's members)
    probabilities: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def value(self) -> float | None:
        return self.curve[-1] if self.curve else None


def preprocess(params: dict[str, Any], split: TabularSplit, seed: int) -> Callable[[np.ndarray], np.ndarray]:
    """Standardisation (always; the training rows' mean and scale) and, where chosen, a truncated SVD fitted on the
    training rows."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(split.x_train)
    svd = None
    if params.get("preprocessing") == "truncated_svd":
        svd = TruncatedSVD(n_components=params["svd_dim"], random_state=seed).fit(scaler.transform(split.x_train))

    def transform(x: np.ndarray) -> np.ndarray:
        out = scaler.transform(x)
        return (svd.transform(out) if svd is not None else out).astype(np.float32)

    return transform


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def train_configuration(params: dict[str, Any], split: TabularSplit, max_epochs: int, seed: int,
                        after_epoch: Callable[[int, float], bool] = lambda epoch, acc: False,
                        stop: Callable[[], bool] = lambda: False, keep_probabilities: bool = False) -> TrialRun:
    """Train ``params``' network for up to ``max_epochs`` epochs (cosine learning rate over all of them, as if it
    would run to the end: a pruned trial is the beginning of a full one).  After each epoch ``after_epoch(epoch,
    validation accuracy)`` says whether to stop there (a pruner's verdict); ``stop()`` is checked every step (a
    cancelled study).  ``keep_probabilities`` keeps the last epoch's validation and test probabilities (for
    :mod:`nascore.hpo.ensemble`).  Deterministic for a seed on a CPU."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    transform = preprocess(params, split, seed)
    x_train = torch.from_numpy(transform(split.x_train))
    y_train = torch.from_numpy(split.y_train)
    x_val, y_val = torch.from_numpy(transform(split.x_val)), torch.from_numpy(split.y_val)
    x_test, y_test = torch.from_numpy(transform(split.x_test)), torch.from_numpy(split.y_test)
    model = build_model(params, x_train.shape[1], split.num_classes)
    if params["optimizer"] == "sgd":
        optimizer: torch.optim.Optimizer = torch.optim.SGD(model.parameters(), lr=params["lr"],
                                                           momentum=params["momentum"], weight_decay=params["l2"])
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=params["lr"], weight_decay=params["l2"])
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max_epochs)
    batch = min(params["batch_size"], len(x_train))
    alpha = params.get("mixup_alpha", 0.0) if params.get("training") == "mixup" else 0.0
    beta = torch.distributions.Beta(alpha, alpha) if alpha > 0 else None
    run = TrialRun()
    for epoch in range(1, max_epochs + 1):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        # a last batch of one row would break batch norm's statistics: it joins the batch before it
        starts = [s for s in range(0, len(order), batch) if len(order) - s > 1 or s == 0]
        for i, start in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else len(order)
            idx = order[start:end]
            xb, yb = x_train[idx], y_train[idx]
            optimizer.zero_grad()
            if beta is not None:  # mixup (Zhang et al., 2018): a convex mix of the batch with itself permuted
                lam = float(beta.sample())
                perm = torch.randperm(len(xb), generator=generator)
                logits = model(lam * xb + (1 - lam) * xb[perm])
                loss = lam * F.cross_entropy(logits, yb) + (1 - lam) * F.cross_entropy(logits, yb[perm])
            else:
                loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
            if stop():
                return run
        scheduler.step()
        acc = _accuracy(model, x_val, y_val)
        if not np.isfinite(loss.item()):
            acc = 0.0  # a diverged network: no prediction it makes is worth anything
        run.curve.append(acc)
        run.test_acc = _accuracy(model, x_test, y_test)
        if after_epoch(epoch, acc):
            break
    if keep_probabilities:
        model.eval()
        with torch.no_grad():
            run.probabilities = {"val": F.softmax(model(x_val), 1).numpy(), "test": F.softmax(model(x_test), 1).numpy()}
    return run


def baselines(split: TabularSplit, seed: int) -> dict[str, dict[str, float]]:
    """Scikit-learn's histogram gradient boosting and a random forest (500 trees) on the same split: validation and
    test accuracy, the figures a tuned network should beat."""
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    out = {}
    for name, model in (("hist_gradient_boosting", HistGradientBoostingClassifier(random_state=seed)),
                        ("random_forest", RandomForestClassifier(n_estimators=500, random_state=seed, n_jobs=1))):
        model.fit(split.x_train, split.y_train)
        out[name] = {"val_acc": float((model.predict(split.x_val) == split.y_val).mean()),
                     "test_acc": float((model.predict(split.x_test) == split.y_test).mean())}
    return out
