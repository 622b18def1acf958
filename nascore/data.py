"""Datasets by name, and the batch streams a search, a training run and an evaluation read.

The registry :data:`DATASETS` maps a name to a :class:`DatasetSpec`; ``digits``
(scikit-learn's 8x8 handwritten digits) is built in and needs no files or network, the
torchvision datasets are read from ``<data_dir>/<name>`` and fetched only when asked.

Batches come from :class:`BatchStream` objects made once per run:

* :class:`TensorBatches` keeps a whole split as one tensor on the target device and
  indexes shuffled batches out of it (digits always; torchvision datasets whenever the
  split fits in :data:`IN_MEMORY_MAX_BYTES` and needs no per-image PIL transform), so
  loading never costs more than an index operation;
* :class:`LoaderBatches` wraps one ``DataLoader`` per split, created once (persistent
  workers), for data too big to hold or with PIL augmentation.

Both draw their example order from their own seeded ``torch.Generator`` (never the global
RNG, so model initialisation stays reproducible) and give ``state_dict()`` /
``load_state_dict()``: a run resumed from a checkpoint, even mid-epoch, continues with
exactly the batches it would have seen.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from nascore import userdata
from nascore.userdata import DataError
from nascore.settings import Settings, setting

Batch = tuple[Tensor, Tensor]
#: ``(spec, folder, download, augment) -> (train_set, test_set)``
DatasetLoader = Callable[["DatasetSpec", Path, bool, bool], "tuple[Dataset, Dataset]"]

#: a torchvision split is held as one float32 tensor when it takes at most this many bytes
IN_MEMORY_MAX_BYTES = 1 << 30

#: the digits test split: this fraction, taken after a permutation with this fixed seed
DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0

CIFAR10_MEAN = (0.49139968, 0.48215827, 0.44653124)
CIFAR10_STD = (0.24703233, 0.24348505, 0.26158768)
CIFAR100_MEAN = (0.50707516, 0.48654887, 0.44091784)
CIFAR100_STD = (0.26733429, 0.25643846, 0.27615047)
MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
FASHIONMNIST_MEAN, FASHIONMNIST_STD = (0.2860,), (0.3530,)
SVHN_MEAN = (0.4376821, 0.4437697, 0.47280442)
SVHN_STD = (0.19803012, 0.20101562, 0.19703614)
#: CIFAR's standard train augmentation: random 32x32 crop from a 4-pixel zero-padded image
CROP_PADDING = 4


@dataclass(frozen=True)
class DatasetSpec:
    """What a model needs to know about a dataset, and how to load it.

    ``mean``/``std`` are the per-channel normalisation; ``None`` means it is computed
    from the training split at load time (digits).  ``augmentable``: the dataset has the
    standard crop + horizontal-flip train augmentation (CIFAR), on by default in a search;
    ``flippable``: a mirrored image is still an example of its class (false for digits and
    house numbers: a mirrored 2 is no 2), so ``crop_flip`` is refused where it is false.
    """

    name: str
    title: str
    in_channels: int
    num_classes: int
    image_size: int
    loader: DatasetLoader
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    augmentable: bool = False
    flippable: bool = True

    def folder(self, data_dir: str | Path) -> Path:
        """Where this dataset's files live: ``<data_dir>/<name>``."""
        return Path(data_dir) / self.name


DATASETS: dict[str, DatasetSpec] = {}


def register_dataset(
    name: str,
    *,
    title: str,
    in_channels: int,
    num_classes: int,
    image_size: int,
    mean: tuple[float, ...] | None = None,
    std: tuple[float, ...] | None = None,
    augmentable: bool = False,
    flippable: bool = True,
) -> Callable[[DatasetLoader], DatasetLoader]:
    """Decorator adding a loader function to :data:`DATASETS` under ``name``."""

    def wrap(fn: DatasetLoader) -> DatasetLoader:
        if name in DATASETS:
            raise ValueError(f"dataset {name!r} registered twice")
        DATASETS[name] = DatasetSpec(name=name, title=title, in_channels=in_channels, num_classes=num_classes,
                                     image_size=image_size, loader=fn, mean=mean, std=std,
                                     augmentable=augmentable, flippable=flippable)
        return fn

    return wrap


class DataSettings(Settings):
    """Which dataset, where its files are, and how it is loaded."""

    title = "Data"

    dataset: str = setting("digits", "The dataset: a built-in one (torchvision datasets are read from data_dir), or "
                                     "your own in data_dir: folder:NAME for the image folder data_dir/NAME, csv:NAME "
                                     "for the table data_dir/NAME.csv (a search needs images).",
                           source="NASBoard's choice: scikit-learn's handwritten digits, offline and fast",
                           choices=lambda: {name: spec.title for name, spec in sorted(DATASETS.items())},
                           pattern=userdata.USER_NAME_PATTERN, pattern_text=userdata.USER_NAME_TEXT, basic=True)
    data_dir: str = setting("data", "The folder that holds the datasets' files, one subfolder per dataset.", min_length=1,
                            expects="a folder path", source="NASBoard's choice", label='Data folder')
    download: bool = setting(False, "Download a torchvision dataset that is not in data_dir.",
                             source="NASBoard's choice: nothing is fetched unless asked")
    num_workers: int = setting(0, "DataLoader worker processes (0: load in the training process).", ge=0,
                               source="NASBoard's choice", label='Data loader workers')

    @classmethod
    def checks(cls, config: Mapping[str, Any]) -> dict[str, str]:
        name = config["dataset"]
        if isinstance(name, str) and name.startswith(userdata.CSV_PREFIX):
            return {"dataset": table_refusal(name)}
        return {}


def table_refusal(name: str) -> str:
    return (f"{name} is a table (CSV), and the networks searched and trained here read images; "
            f"use an image dataset (a built-in one, or folder:NAME)")


#: the augmentations a search's batches may get, with what they do (the form's choices)
SEARCH_AUGMENTATIONS: dict[str, str] = {
    "none": "none: the batches as stored",
    "crop": "crop: random crop of the image padded by 1/8 of its side (CIFAR: 4 pixels), no flip",
    "crop_flip": "crop_flip: random crop and horizontal flip (DARTS on CIFAR)",
}


def default_augment(spec: DatasetSpec | None) -> str:
    """A search's augmentation on ``spec`` when the config names none: the papers' crop + flip on CIFAR (DARTS,
    PC-DARTS, GDAS, RobustDARTS all search CIFAR with it); none elsewhere, since no paper searched there with one
    and flipping digits changes their class."""
    return "crop_flip" if spec is not None and spec.augmentable else "none"


def default_augment_text() -> str:
    on = sorted(name for name, spec in DATASETS.items() if default_augment(spec) != "none")
    return f"the dataset's: crop_flip on {', '.join(on)}; none on the others (digits must not be flipped)"


def default_augment_of(name: str) -> str:
    """A search's augmentation on the dataset called ``name`` when the config names none, without loading it: your
    own datasets get none (NASBoard cannot know whether a mirrored image keeps its class)."""
    return default_augment(DATASETS.get(name))


def crop_padding(spec: DatasetSpec) -> int:
    """Pixels of padding of the random crop: 1/8 of the side (CIFAR: 4, DARTS's; MNIST: 3; 8x8 digits: 1)."""
    return max(1, spec.image_size // 8)


def resolve_augment(spec: DatasetSpec, chosen: str | None) -> str:
    """The augmentation a search applies: the config's, or the dataset's default when it names none."""
    return default_augment(spec) if chosen is None else chosen


def resolve_augment_of(name: str, chosen: str | None) -> str:
    """:func:`resolve_augment` by the dataset's name, without loading a user dataset."""
    return default_augment_of(name) if chosen is None else chosen


class SearchSplitSettings(Settings):
    """How a search splits the training set: weights learn on one part, the architecture on the other."""

    title = "Data"

    train_portion: float = setting(0.5, "Share of the training set the weights learn on; the rest is the "
                                        "validation split the architecture learns on.", gt=0, lt=1,
                                   source="DARTS (Liu et al., ICLR 2019), section 3.1: half of CIFAR-10's training set", label='Train portion (rest is the validation split)')
    search_augment: str | None = setting(
        None, "Augmentation of the search's batches, on both splits (the weights' and the architecture's); "
              "measured validation accuracy is never augmented.",
        choices=lambda: SEARCH_AUGMENTATIONS, none_means=lambda: default_augment_text(),
        source="DARTS's code (quark0/darts, cnn/utils.py _data_transforms_cifar10, used by cnn/train_search.py "
               "for both splits): random crop with 4 pixels of padding and horizontal flip on CIFAR",
        label="Search augmentation")

    @classmethod
    def checks(cls, config: Mapping[str, Any]) -> dict[str, str]:
        chosen, name = config["search_augment"], config["dataset"]
        spec = DATASETS.get(name)
        if chosen == "crop_flip" and spec is not None and not spec.flippable:
            return {"search_augment": f"crop_flip mirrors images, and a mirrored {spec.title} image is no longer "
                                      f"an example of its class (a mirrored 2 is no 2); use crop or none"}
        return {}


def get_spec(name: str, data_dir: str | Path | None = None) -> DatasetSpec:
    """The spec called ``name``; an unknown name raises :class:`DataError` listing the known ones.

    A user image folder (``folder:NAME``) is read from ``data_dir`` (its channels, classes and image size come
    from the data; the decoded images are cached, so this is cheap after the first load)."""
    if userdata.is_user_name(name):
        if data_dir is None:
            raise DataError(f"dataset {name!r} is read from the data folder, and none was given")
        return load_dataset(name, data_dir)[2]
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise DataError(f"unknown dataset {name!r}; known datasets: {', '.join(sorted(DATASETS))}, "
                        f"or your own: {userdata.USER_NAME_TEXT}") from None


# ---- datasets -----------------------------------------------------------------------


def digits_split_indices() -> tuple[Tensor, Tensor]:
    """``(train_idx, test_idx)`` into scikit-learn's 1797 digits.

    Fixed (legacy ``RandomState``, whose stream numpy keeps stable) and independent of
    any run's seed, so the test examples are never seen by a search or a training run.
    """
    n = 1797
    order = torch.from_numpy(np.random.RandomState(DIGITS_SPLIT_SEED).permutation(n))
    n_test = round(n * DIGITS_TEST_FRACTION)
    return order[: n - n_test], order[n - n_test:]


@register_dataset("digits", title="Handwritten digits (scikit-learn, 8x8)", in_channels=1, num_classes=10,
                  image_size=8, flippable=False)
def _digits(spec: DatasetSpec, folder: Path, download: bool, augment: bool) -> tuple[Dataset, Dataset]:
    from sklearn.datasets import load_digits  # shipped with scikit-learn: no files, no network

    bunch = load_digits()
    x = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0  # pixel values 0..16 -> [0, 1]
    y = torch.tensor(bunch.target, dtype=torch.long)
    train_idx, test_idx = digits_split_indices()
    mean, std = x[train_idx].mean(), x[train_idx].std()  # training statistics only: no test leakage
    x = (x - mean) / std
    return TensorDataset(x[train_idx], y[train_idx]), TensorDataset(x[test_idx], y[test_idx])


def _transforms(spec: DatasetSpec, augment: bool) -> Any:
    from torchvision import transforms as T

    steps: list[Any] = []
    if augment and spec.augmentable:
        steps += [T.RandomCrop(spec.image_size, padding=CROP_PADDING), T.RandomHorizontalFlip()]
    steps += [T.ToTensor(), T.Normalize(spec.mean, spec.std)]
    return T.Compose(steps)


def _missing_message(spec: DatasetSpec, folder: Path) -> str:
    return (f"dataset {spec.name!r} ({spec.title}) was not found in {folder}: pass --download (CLI) or set "
            f"download=true (config) to fetch it, or copy its files there (torchvision's layout)")


def _torchvision_pair(spec: DatasetSpec, folder: Path, download: bool, augment: bool,
                      make: Callable[[bool, Any], Dataset]) -> tuple[Dataset, Dataset]:
    """Build (train, test) with ``make(train, transform)``; every failure becomes a DataError that says what to do."""
    if not download and not folder.is_dir():
        raise DataError(_missing_message(spec, folder))
    try:
        return make(True, _transforms(spec, augment)), make(False, _transforms(spec, False))
    except (RuntimeError, OSError) as exc:  # torchvision: RuntimeError "Dataset not found"; network: URLError
        if download:
            raise DataError(f"could not download dataset {spec.name!r} into {folder}: {exc}") from exc
        raise DataError(f"{_missing_message(spec, folder)} (torchvision: {exc})") from exc


@register_dataset("cifar10", title="CIFAR-10", in_channels=3, num_classes=10, image_size=32,
                  mean=CIFAR10_MEAN, std=CIFAR10_STD, augmentable=True)
def _cifar10(spec: DatasetSpec, folder: Path, download: bool, augment: bool) -> tuple[Dataset, Dataset]:
    from torchvision import datasets

    return _torchvision_pair(spec, folder, download, augment,
                             lambda train, tf: datasets.CIFAR10(folder, train=train, transform=tf, download=download))


@register_dataset("cifar100", title="CIFAR-100", in_channels=3, num_classes=100, image_size=32,
                  mean=CIFAR100_MEAN, std=CIFAR100_STD, augmentable=True)
def _cifar100(spec: DatasetSpec, folder: Path, download: bool, augment: bool) -> tuple[Dataset, Dataset]:
    from torchvision import datasets

    return _torchvision_pair(spec, folder, download, augment,
                             lambda train, tf: datasets.CIFAR100(folder, train=train, transform=tf, download=download))


@register_dataset("mnist", title="MNIST", in_channels=1, num_classes=10, image_size=28,
                  mean=MNIST_MEAN, std=MNIST_STD, flippable=False)
def _mnist(spec: DatasetSpec, folder: Path, download: bool, augment: bool) -> tuple[Dataset, Dataset]:
    from torchvision import datasets

    return _torchvision_pair(spec, folder, download, augment,
                             lambda train, tf: datasets.MNIST(folder, train=train, transform=tf, download=download))


@register_dataset("fashionmnist", title="Fashion-MNIST", in_channels=1, num_classes=10, image_size=28,
                  mean=FASHIONMNIST_MEAN, std=FASHIONMNIST_STD)
def _fashionmnist(spec: DatasetSpec, folder: Path, download: bool, augment: bool) -> tuple[Dataset, Dataset]:
    from torchvision import datasets

    return _torchvision_pair(
        spec, folder, download, augment,
        lambda train, tf: datasets.FashionMNIST(folder, train=train, transform=tf, download=download))


@register_dataset("svhn", title="SVHN (street view house numbers)", in_channels=3, num_classes=10, image_size=32,
                  mean=SVHN_MEAN, std=SVHN_STD, flippable=False)
def _svhn(spec: DatasetSpec, folder: Path, download: bool, augment: bool) -> tuple[Dataset, Dataset]:
    from torchvision import datasets

    splits = {True: "train", False: "test"}
    return _torchvision_pair(
        spec, folder, download, augment,
        lambda train, tf: datasets.SVHN(folder, split=splits[train], transform=tf, download=download))


def load_dataset(name: str, data_dir: str | Path = "data", download: bool = False,
                 augment: bool = False) -> tuple[Dataset, Dataset, DatasetSpec]:
    """``(train_set, test_set, spec)`` for ``name``.

    Files are looked for in ``<data_dir>/<name>`` and fetched only when ``download`` is
    true, so a run never touches the network unless asked; missing files raise a
    :class:`DataError` that says where they were expected and how to get them.
    ``augment`` adds the standard train augmentation where the dataset has one (CIFAR).
    """
    if userdata.is_user_name(name):
        return load_user_images(name, data_dir)
    spec = get_spec(name)
    train_set, test_set = spec.loader(spec, spec.folder(data_dir), bool(download), bool(augment))
    return train_set, test_set, spec


def _user_images_loader(spec: DatasetSpec, folder: Path, download: bool, augment: bool) -> tuple[Dataset, Dataset]:
    raise DataError(f"dataset {spec.name!r} is loaded with load_dataset(name, data_dir)")


def load_user_images(name: str, data_dir: str | Path) -> tuple[Dataset, Dataset, DatasetSpec]:
    """``(train_set, test_set, spec)`` of the image folder ``folder:NAME`` in ``data_dir``: tensors held in memory
    (normalised by the training split's per-channel mean and std), so batches are indexed as digits' are.

    The decoded images are cached under ``<data_dir>/.nasboard-cache/``; a missing or unreadable folder, or a
    ``csv:`` name, raises DataError saying where it looked."""
    if name.startswith(userdata.CSV_PREFIX):
        raise DataError(table_refusal(name))
    located = userdata.locate(name, data_dir)
    assert located.root is not None
    data = userdata.load_image_folder(located.root, cache_dir=Path(data_dir) / userdata.CACHE_DIR,
                                      cache_key=userdata.bare_name(name))
    mean, std = data.mean_std()
    m = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)

    def normalised(x: Tensor) -> Tensor:
        return ((x.float() / 255.0) - m) / s

    spec = DatasetSpec(name=name, title=f"{userdata.bare_name(name)} (your image folder)", in_channels=data.channels,
                       num_classes=len(data.classes), image_size=data.image_size, loader=_user_images_loader,
                       mean=mean, std=std, augmentable=False, flippable=True)
    return (TensorDataset(normalised(data.train_x), data.train_y), TensorDataset(normalised(data.test_x), data.test_y),
            spec)


def _as_tensors(dataset: Dataset, spec: DatasetSpec) -> Batch | None:
    """The whole dataset as ``(x, y)`` tensors, or None where that is not possible or too big.

    torchvision datasets are converted from their raw uint8 arrays (fast: no PIL), and the
    result is checked against the dataset's own transform on the first example, so the
    two paths can never silently disagree.
    """
    if isinstance(dataset, TensorDataset):
        x, y = dataset.tensors[:2]
        return x, y
    data = getattr(dataset, "data", None)
    targets = getattr(dataset, "targets", getattr(dataset, "labels", None))
    if data is None or targets is None or spec.mean is None or spec.std is None:
        return None
    x = torch.as_tensor(np.asarray(data)) if not isinstance(data, Tensor) else data
    if x.dtype != torch.uint8 or x.ndim not in (3, 4) or len(x) == 0:
        return None
    if x.numel() * 4 > IN_MEMORY_MAX_BYTES:
        return None
    if x.ndim == 3:  # (N, H, W): MNIST-like grayscale
        x = x.unsqueeze(1)
    elif x.shape[1] != spec.in_channels and x.shape[-1] == spec.in_channels:  # (N, H, W, C): CIFAR
        x = x.permute(0, 3, 1, 2)
    if tuple(x.shape[1:]) != (spec.in_channels, spec.image_size, spec.image_size):
        return None
    mean = torch.tensor(spec.mean, dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32).view(1, -1, 1, 1)
    x = ((x.float() / 255.0) - mean) / std
    y = torch.as_tensor(np.asarray(targets), dtype=torch.long).reshape(-1)
    if len(y) != len(x):
        return None
    x0, y0 = dataset[0]
    if not (isinstance(x0, Tensor) and x0.shape == x[0].shape and torch.allclose(x0, x[0], atol=1e-5)
            and int(y0) == int(y[0])):
        return None  # a transform we do not reproduce (e.g. augmentation): use a DataLoader
    return x.contiguous(), y


# ---- batch streams ------------------------------------------------------------------


def _device(device: str | torch.device) -> torch.device:
    if isinstance(device, torch.device):
        return device
    from nascore.device import resolve_device

    return resolve_device(device)


def _derive_seed(seed: int, purpose: str) -> int:
    """An independent 63-bit seed per purpose, so the split, the train order and the val order never share a stream."""
    digest = hashlib.sha256(f"nascore.data:{int(seed)}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def _check_batch_size(batch_size: int) -> None:
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")


class BatchStream:
    """An endless sequence of ``(x, y)`` batches on a device, in passes over ``num_examples`` examples.

    Each pass is a fresh permutation (when ``shuffle``) drawn from the stream's own
    generator and cut into ``len(self)`` full-or-partial batches.  ``next_batch()`` never
    runs out (a search's validation side cycles); iterating yields the rest of the current
    pass, or a whole new pass when none is under way (what an epoch or an evaluation
    wants).  ``state_dict()`` records the pass's starting generator state and how many
    batches of it were served, which is enough to replay it exactly after a restart.
    """

    def __init__(self, num_examples: int, batch_size: int, *, shuffle: bool, seed: int,
                 device: str | torch.device) -> None:
        _check_batch_size(batch_size)
        if num_examples <= 0:
            raise ValueError("a batch stream needs at least one example")
        self.num_examples = int(num_examples)
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.device = _device(device)
        self._order = torch.Generator().manual_seed(int(seed))
        self._pass_state: Tensor | None = None
        self._perm: Tensor | None = None
        self._pos = 0
        #: applied to each batch the stream serves (never to ordered_batches), set by the subclass
        self.augmenter: BatchAugment | None = None

    def __len__(self) -> int:
        """Batches per pass: full batches plus one partial batch for any remainder."""
        return math.ceil(self.num_examples / self.batch_size)

    def _start_pass(self) -> None:
        self._pass_state = self._order.get_state()
        if self.shuffle:
            self._perm = torch.randperm(self.num_examples, generator=self._order)
        else:
            self._perm = torch.arange(self.num_examples)
        self._pos = 0
        self._on_new_pass()

    def _batch_indices(self, position: int) -> Tensor:
        assert self._perm is not None
        return self._perm[position * self.batch_size: (position + 1) * self.batch_size]

    def next_batch(self) -> Batch:
        """The next batch, starting a new pass when the current one is used up."""
        if self._perm is None or self._pos >= len(self):
            self._start_pass()
        x, y = self._produce()
        self._pos += 1
        if self.augmenter is not None:
            x = self.augmenter(x)
        return x, y

    def __iter__(self) -> Iterator[Batch]:
        if self._perm is None or self._pos >= len(self):
            self._start_pass()
        while self._pos < len(self):
            yield self.next_batch()

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue with identical batches (CPU tensors and ints; ``torch.save``-able)."""
        in_pass = self._perm is not None
        state = {
            "num_examples": self.num_examples,
            "batch_size": self.batch_size,
            "order": (self._pass_state if in_pass else self._order.get_state()).clone(),
            "position": self._pos if in_pass else None,
        }
        if self.augmenter is not None:
            state["augment"] = self.augmenter.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state``; a state from a differently sized split or batch size is refused."""
        if state.get("num_examples") != self.num_examples or state.get("batch_size") != self.batch_size:
            raise ValueError(f"batch stream state is for {state.get('num_examples')} examples in batches of "
                             f"{state.get('batch_size')}, not {self.num_examples} in batches of {self.batch_size}")
        self._order.set_state(torch.as_tensor(state["order"]).cpu())
        if state["position"] is None:
            self._pass_state, self._perm, self._pos = None, None, 0
            self._on_new_pass()
        else:
            self._start_pass()  # redraws the same permutation from the pass's starting state
            self._pos = int(state["position"])
        if self.augmenter is not None and "augment" in state:
            self.augmenter.load_state_dict(state["augment"])

    def ordered_batches(self) -> Iterator[Batch]:
        """Every example once, in its fixed order and un-augmented, without moving the stream.

        For measuring (validation loss/accuracy): the stream's position and generators
        are untouched, so a checkpoint taken afterwards resumes exactly as without it.
        """
        raise NotImplementedError

    # subclass hooks
    def _on_new_pass(self) -> None:
        pass

    def _produce(self) -> Batch:
        raise NotImplementedError


class BatchAugment:
    """Random crop (``padding`` pixels of ``fill`` per channel, i.e. normalised black, as torchvision's
    ``RandomCrop(padding=4)`` pads with zeros before normalising) and, when ``flip``, a horizontal flip with
    probability 1/2, per example of a batch, on the batch's device.

    The draws come from its own generator (seeded per stream), whose state a checkpoint keeps, so an augmented run
    resumed mid-epoch sees exactly the images it would have seen (what ``DataLoader`` workers cannot promise).
    """

    def __init__(self, seed: int, padding: int = CROP_PADDING, fill: Sequence[float] = (0.0,), flip: bool = True):
        self.padding = int(padding)
        self.flip = bool(flip)
        self.fill = torch.tensor(list(fill), dtype=torch.float32).view(1, -1, 1, 1)
        self.generator = torch.Generator().manual_seed(int(seed))

    def __call__(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        p = self.padding
        padded = self.fill.to(x.device, x.dtype).expand(n, c, h + 2 * p, w + 2 * p).clone()
        padded[:, :, p:p + h, p:p + w] = x
        dy = torch.randint(0, 2 * p + 1, (n,), generator=self.generator).to(x.device)
        dx = torch.randint(0, 2 * p + 1, (n,), generator=self.generator).to(x.device)
        flip = (torch.rand(n, generator=self.generator) < 0.5).to(x.device)
        if not self.flip:
            flip = torch.zeros_like(flip)
        rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
        cols = dx[:, None] + torch.arange(w, device=x.device)
        cols = torch.where(flip[:, None], cols.flip(1), cols)[:, None, None, :]
        batch = torch.arange(n, device=x.device)[:, None, None, None]
        chan = torch.arange(c, device=x.device)[None, :, None, None]
        return padded[batch, chan, rows, cols]

    def state_dict(self) -> Tensor:
        return self.generator.get_state().clone()

    def load_state_dict(self, state: Tensor) -> None:
        self.generator.set_state(torch.as_tensor(state).cpu())


def cutout(x: Tensor, length: int, generator: torch.Generator | None = None) -> Tensor:
    """Cutout (DeVries & Taylor, 2017) as DARTS's code applies it (quark0/darts, cnn/utils.py, class Cutout): per
    image, one square of side ``length`` (``2 * (length // 2)`` pixels, as there) centred on a uniformly drawn pixel
    and clipped at the borders is set to 0, on every channel, after the other augmentation and the normalisation.
    The centres come from ``generator`` (the global RNG when None, on the CPU), so a seeded run repeats; ``length``
    0 returns ``x`` itself."""
    if length <= 0:
        return x
    n, _, h, w = x.shape
    cy = torch.randint(h, (n,), generator=generator)
    cx = torch.randint(w, (n,), generator=generator)
    half = length // 2
    rows, cols = torch.arange(h), torch.arange(w)
    inside_rows = ((rows[None, :] >= (cy - half).clamp(0, h)[:, None])
                   & (rows[None, :] < (cy + half).clamp(0, h)[:, None]))
    inside_cols = ((cols[None, :] >= (cx - half).clamp(0, w)[:, None])
                   & (cols[None, :] < (cx + half).clamp(0, w)[:, None]))
    keep = ~(inside_rows[:, :, None] & inside_cols[:, None, :])
    return x * keep[:, None].to(x.device, x.dtype)


def _augmenter(kind: str, spec: DatasetSpec, seed: int) -> BatchAugment | None:
    """The batch augmentation ``kind`` (:data:`SEARCH_AUGMENTATIONS`) of ``spec``'s images, or None."""
    if kind == "none":
        return None
    if kind not in SEARCH_AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {kind!r}; choose one of: {', '.join(SEARCH_AUGMENTATIONS)}")
    if kind == "crop_flip" and not spec.flippable:
        raise ValueError(f"crop_flip would mirror {spec.title} images, which changes their class; use crop or none")
    fill = [(0.0 - m) / s for m, s in zip(spec.mean, spec.std)] if spec.mean and spec.std else [0.0]
    return BatchAugment(_derive_seed(seed, "augment"), padding=crop_padding(spec), fill=fill,
                        flip=kind == "crop_flip")


class TensorBatches(BatchStream):
    """Batches indexed out of ``(x, y)`` tensors held on the device: no per-step loading cost.

    ``augment`` applies CIFAR's random crop (``padding`` pixels of ``fill``, per channel,
    i.e. normalised black) and horizontal flip to each batch on the device (:class:`BatchAugment`),
    with its own generator whose state is saved too, so augmented runs resume exactly as well.
    """

    def __init__(self, x: Tensor, y: Tensor, batch_size: int, *, shuffle: bool = True, seed: int = 0,
                 device: str | torch.device = "cpu", augment: bool = False, padding: int = CROP_PADDING,
                 fill: Sequence[float] = (0.0,)) -> None:
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} examples but y has {len(y)}")
        super().__init__(len(x), batch_size, shuffle=shuffle, seed=seed, device=device)
        self.x = x.to(self.device)
        self.y = y.to(self.device)
        self.augment = bool(augment)
        self.padding = int(padding)
        if self.augment:
            self.augmenter = BatchAugment(_derive_seed(seed, "augment"), padding=padding, fill=fill)

    def _produce(self) -> Batch:
        idx = self._batch_indices(self._pos).to(self.device)
        return self.x[idx], self.y[idx]

    def ordered_batches(self) -> Iterator[Batch]:
        for start in range(0, self.num_examples, self.batch_size):
            yield self.x[start: start + self.batch_size], self.y[start: start + self.batch_size]


class _PassBatchSampler:
    """The batch sampler behind :class:`LoaderBatches`: the stream decides order and position."""

    def __init__(self, stream: LoaderBatches) -> None:
        self.stream = stream
        self.start = 0
        self.ordered = False  # True: plain order from the start (ordered_batches)

    def __iter__(self) -> Iterator[list[int]]:
        n, size = self.stream.num_examples, self.stream.batch_size
        for position in range(0 if self.ordered else self.start, len(self.stream)):
            if self.ordered:
                yield list(range(position * size, min((position + 1) * size, n)))
            else:
                yield self.stream._batch_indices(position).tolist()

    def __len__(self) -> int:
        return len(self.stream)


class LoaderBatches(BatchStream):
    """Batches from one ``DataLoader`` over ``dataset``, created once and reused every pass.

    The order (and so the restored position after a resume) is exactly that of a
    :class:`TensorBatches` with the same seed; random augmentation done inside worker
    processes is not part of the saved state.
    """

    def __init__(self, dataset: Dataset, batch_size: int, *, shuffle: bool = True, seed: int = 0,
                 device: str | torch.device = "cpu", num_workers: int = 0) -> None:
        super().__init__(len(dataset), batch_size, shuffle=shuffle, seed=seed, device=device)  # type: ignore[arg-type]
        self._sampler = _PassBatchSampler(self)
        self._pin = self.device.type == "cuda"
        self.loader = DataLoader(
            dataset, batch_sampler=self._sampler, num_workers=num_workers, pin_memory=self._pin,
            persistent_workers=num_workers > 0,
            # worker seeds come from here, not from the global RNG (model init stays reproducible)
            generator=torch.Generator().manual_seed(_derive_seed(seed, "workers")))
        self._iter: Iterator[Any] | None = None

    def _on_new_pass(self) -> None:
        self._iter = None

    def ordered_batches(self) -> Iterator[Batch]:
        # the same DataLoader (and workers) in plain order; the stream's iterator is dropped and
        # re-created at its position on the next batch, so no example is skipped or repeated
        self._iter = None
        self._sampler.ordered = True
        try:
            for x, y in self.loader:
                yield x.to(self.device, non_blocking=self._pin), y.to(self.device, non_blocking=self._pin)
        finally:
            self._sampler.ordered = False

    def _produce(self) -> Batch:
        if self._iter is None:
            self._sampler.start = self._pos
            self._iter = iter(self.loader)
        x, y = next(self._iter)
        return x.to(self.device, non_blocking=self._pin), y.to(self.device, non_blocking=self._pin)


def _stream(dataset: Dataset, spec: DatasetSpec, batch_size: int, *, tensors: Batch | None,
            indices: Tensor | None = None, shuffle: bool, seed: int, device: str | torch.device, num_workers: int,
            augment: bool = False) -> BatchStream:
    """Tensor batches when ``tensors`` (the whole ``dataset`` in memory) are given, else one DataLoader.

    ``indices`` selects the examples of ``dataset`` the stream covers (a split).
    """
    if tensors is not None:
        x, y = tensors
        if indices is not None:
            x, y = x[indices], y[indices]
        fill = [(0.0 - m) / s for m, s in zip(spec.mean, spec.std)] if spec.mean and spec.std else [0.0]
        return TensorBatches(x, y, batch_size, shuffle=shuffle, seed=seed, device=device,
                             augment=augment and spec.augmentable, fill=fill)
    if indices is not None:
        dataset = Subset(dataset, indices.tolist())
    return LoaderBatches(dataset, batch_size, shuffle=shuffle, seed=seed, device=device, num_workers=num_workers)


def _search_stream(dataset: Dataset, spec: DatasetSpec, batch_size: int, *, tensors: Batch | None, indices: Tensor,
                   seed: int, device: str | torch.device, num_workers: int, augment: str) -> BatchStream:
    """One side of a search: shuffled batches of ``indices``, augmented on the device by ``augment``'s
    :class:`BatchAugment` whichever kind of stream serves them (so the draws are seeded and checkpointed)."""
    stream = _stream(dataset, spec, batch_size, tensors=tensors, indices=indices, shuffle=True, seed=seed,
                     device=device, num_workers=num_workers)
    stream.augmenter = _augmenter(augment, spec, seed)
    return stream


# ---- what runs read -----------------------------------------------------------------


@dataclass
class SearchData:
    """The two halves of the training set a one-shot search reads.

    ``train`` feeds the network weights, ``val`` the architecture; ``steps_per_epoch`` is
    the number of batches in one pass over ``train``.  ``train_indices``/``val_indices``
    are positions in the dataset's training set (the test set is never involved).
    """

    train: BatchStream
    val: BatchStream
    spec: DatasetSpec
    steps_per_epoch: int
    train_indices: Tensor
    val_indices: Tensor

    def epoch_batches(self, max_steps: int | None = None) -> Iterator[tuple[Batch, Batch]]:
        """One epoch of ``(train_batch, val_batch)`` pairs, both on the device.

        The val stream cycles on its own, so every weight step has an architecture
        batch.  ``max_steps`` caps the epoch (quick runs); the next epoch then continues
        where this one stopped, so capped runs still see the whole split over time.
        """
        steps = self.steps_per_epoch if max_steps is None else max(0, min(int(max_steps), self.steps_per_epoch))
        for _ in range(steps):
            yield self.train.next_batch(), self.val.next_batch()

    def val_batches(self) -> Iterator[Batch]:
        """The whole validation part once, in a fixed order, for measuring; the val stream does not move."""
        return self.val.ordered_batches()

    def state_dict(self) -> dict[str, Any]:
        """Both streams' positions, for a checkpoint."""
        return {"train": self.train.state_dict(), "val": self.val.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.train.load_state_dict(state["train"])
        self.val.load_state_dict(state["val"])


def split_indices(num_examples: int, train_portion: float, seed: int) -> tuple[Tensor, Tensor]:
    """Positions of the weight part and the architecture part of a training set, fixed by ``seed``."""
    if isinstance(train_portion, bool) or not isinstance(train_portion, (int, float)) or not 0 < train_portion < 1:
        raise ValueError(f"train_portion must be strictly between 0 and 1, not {train_portion!r}")
    if num_examples < 2:
        raise ValueError("a search needs at least two training examples (one per side)")
    n_train = min(max(int(num_examples * train_portion), 1), num_examples - 1)
    perm = torch.randperm(num_examples, generator=torch.Generator().manual_seed(_derive_seed(seed, "split")))
    return perm[:n_train], perm[n_train:]


def search_loaders(name: str, data_dir: str | Path, download: bool, batch_size: int, train_portion: float = 0.5,
                   seed: int = 0, num_workers: int = 0, device: str | torch.device = "cpu",
                   augment: str = "none") -> SearchData:
    """Split the TRAINING set into a weight part and an architecture part and stream both.

    Deterministic for a given ``seed`` (the split, each stream's order and its augmentation draws).
    ``augment`` (:data:`SEARCH_AUGMENTATIONS`) applies to the batches of both parts, as DARTS's
    ``train_search.py`` reads both from one dataset with the train transform; ``val_batches()``,
    what a validation accuracy is measured on, is never augmented.  Streams are made once here
    and reused for the whole run.
    """
    _check_batch_size(batch_size)
    train_set, _, spec = load_dataset(name, data_dir, download)
    train_idx, val_idx = split_indices(len(train_set), train_portion, seed)  # type: ignore[arg-type]
    tensors = _as_tensors(train_set, spec)
    train, val = (
        _search_stream(train_set, spec, batch_size, tensors=tensors, indices=idx, seed=_derive_seed(seed, part),
                       device=device, num_workers=num_workers, augment=augment)
        for part, idx in (("train", train_idx), ("val", val_idx)))
    return SearchData(train=train, val=val, spec=spec, steps_per_epoch=len(train), train_indices=train_idx,
                      val_indices=val_idx)


def train_loader(name: str, data_dir: str | Path, download: bool, batch_size: int,
                 device: str | torch.device = "cpu", augment: bool = False, seed: int = 0,
                 num_workers: int = 0) -> BatchStream:
    """Shuffled batches over the whole training set, for training a stand-alone network from scratch.

    ``augment`` turns on the dataset's standard augmentation (CIFAR crop + flip; no effect
    elsewhere), done on the device when the set is held in memory.  Iterate once per epoch.
    """
    _check_batch_size(batch_size)
    train_set, _, spec = load_dataset(name, data_dir, download)
    tensors = _as_tensors(train_set, spec)
    if tensors is None and augment and spec.augmentable:
        train_set, _, spec = load_dataset(name, data_dir, download, augment=True)  # PIL augmentation in workers
    return _stream(train_set, spec, batch_size, tensors=tensors, shuffle=True, seed=_derive_seed(seed, "train_full"),
                   device=device, num_workers=num_workers, augment=augment)


def test_loader(name: str, data_dir: str | Path, download: bool, batch_size: int,
                device: str | torch.device = "cpu", num_workers: int = 0) -> BatchStream:
    """The held-out test set in a fixed order, for final evaluation only (never used by a search)."""
    _check_batch_size(batch_size)
    _, test_set, spec = load_dataset(name, data_dir, download)
    return _stream(test_set, spec, batch_size, tensors=_as_tensors(test_set, spec), shuffle=False, seed=0,
                   device=device, num_workers=num_workers)
