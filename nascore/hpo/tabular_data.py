"""Tabular classification data for hyperparameter studies: scikit-learn's bundled tables (``breast_cancer``,
``wine``, ``digits_table``: offline, no files) and the user's CSV tables (``csv:NAME``), split once into train,
validation and test with a fixed seed, so a study, its baselines and any rerun see the same rows."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from nascore.userdata import DataError

#: the split every study of a dataset shares: 60% train, 20% validation (what studies maximise), 20% test
VAL_FRACTION, TEST_FRACTION, SPLIT_SEED = 0.2, 0.2, 0


def _sklearn(loader_name: str, flatten: bool = False) -> Callable[[], tuple[np.ndarray, np.ndarray, list[str]]]:
    def load() -> tuple[np.ndarray, np.ndarray, list[str]]:
        import sklearn.datasets as ds

        bunch = getattr(ds, loader_name)()
        x = bunch.data.reshape(len(bunch.data), -1) if flatten else bunch.data
        names = list(getattr(bunch, "feature_names", [])) or [f"x{i}" for i in range(x.shape[1])]
        return np.asarray(x, dtype=np.float32), np.asarray(bunch.target, dtype=np.int64), names

    return load


#: the bundled tables, by name, with what they hold
TABLES: dict[str, tuple[str, Callable[[], tuple[np.ndarray, np.ndarray, list[str]]]]] = {
    "breast_cancer": ("Breast cancer Wisconsin (569 rows, 30 features, 2 classes)", _sklearn("load_breast_cancer")),
    "wine": ("Wine (178 rows, 13 features, 3 classes)", _sklearn("load_wine")),
    "digits_table": ("Handwritten digits as 64 pixel columns (1797 rows, 10 classes)", _sklearn("load_digits", True)),
}


@dataclass(frozen=True)
class TabularSplit:
    """Features (float32) and class indices of each part."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    features: list[str]

    @property
    def num_features(self) -> int:
        return self.x_train.shape[1]


def table_names() -> dict[str, str]:
    return {name: title for name, (title, _) in TABLES.items()}


def load_split(dataset: str, data_dir: str | Path = "data", target: str | None = None) -> TabularSplit:
    """The fixed train/validation/test split of a bundled table or of ``csv:NAME``; raises DataError naming the
    problem (an unknown name, a file that is not a usable table, a class too small to appear in every part)."""
    from sklearn.model_selection import train_test_split

    if dataset in TABLES:
        x, y, features = TABLES[dataset][1]()
    elif dataset.startswith("csv:"):
        from nascore.userdata import load_table

        table = load_table(dataset, data_dir, target)
        x, y, features = table.x.numpy(), table.y.numpy(), list(table.features)
    else:
        raise DataError(f"unknown tabular dataset {dataset!r}; choose one of: {', '.join(TABLES)} "
                        "(or csv:NAME, a table in the data folder)")
    counts = np.bincount(y)
    if len(counts) < 2 or counts[counts > 0].min() < 5:
        raise DataError(f"{dataset}: every class needs at least 5 rows to appear in train, validation and test "
                        f"(class sizes: {counts.tolist()})")
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=TEST_FRACTION, random_state=SPLIT_SEED,
                                                      stratify=y)
    x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=VAL_FRACTION / (1 - TEST_FRACTION),
                                                      random_state=SPLIT_SEED, stratify=y_rest)
    return TabularSplit(x_train, y_train, x_val, y_val, x_test, y_test, int(len(counts)), features)
