"""nascore.data: the dataset registry, splits and batch streams.  Offline: digits only, plus a
tiny fake MNIST folder written to tmp_path for the torchvision (DataLoader) path."""
from __future__ import annotations

import copy
import io
import math
import struct

import numpy as np
import pytest
import torch

from nascore import data as D

N_DIGITS = 1797
N_TEST = round(N_DIGITS * D.DIGITS_TEST_FRACTION)
N_TRAIN = N_DIGITS - N_TEST


def _rows(x: torch.Tensor) -> set[bytes]:
    return {row.numpy().tobytes() for row in x.reshape(len(x), -1)}


def _collect(stream, n_batches=None):
    batches = [stream.next_batch() for _ in range(n_batches)] if n_batches else list(stream)
    return torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])


def _same_batches(a, b):
    assert len(a) == len(b)
    for (xa, ya), (xb, yb) in zip(a, b):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


# ---- registry and digits ---------------------------------------------------------------


def test_registry_holds_the_datasets():
    assert {"digits", "cifar10", "cifar100", "mnist", "fashionmnist", "svhn"} <= set(D.DATASETS)
    for name, spec in D.DATASETS.items():
        assert spec.name == name and callable(spec.loader)
    assert (D.DATASETS["cifar10"].in_channels, D.DATASETS["cifar10"].num_classes) == (3, 10)
    assert D.DATASETS["cifar100"].num_classes == 100
    assert D.DATASETS["mnist"].image_size == 28
    with pytest.raises(Exception):
        D.DATASETS["digits"].num_classes = 3  # frozen


def test_digits_shapes_classes_and_ranges():
    train, test, spec = D.load_dataset("digits")
    assert (spec.in_channels, spec.num_classes, spec.image_size) == (1, 10, 8)
    x_tr, y_tr = train.tensors
    x_te, y_te = test.tensors
    assert x_tr.shape == (N_TRAIN, 1, 8, 8) and x_te.shape == (N_TEST, 1, 8, 8)
    assert x_tr.dtype == torch.float32 and y_tr.dtype == torch.long
    assert set(y_tr.tolist()) == set(range(10)) and set(y_te.tolist()) <= set(range(10))
    # normalised with the training statistics: mean 0 / std 1 on train, undoes to [0, 1]
    assert abs(x_tr.mean().item()) < 1e-4 and abs(x_tr.std().item() - 1) < 1e-4
    from sklearn.datasets import load_digits

    raw = torch.tensor(load_digits().images, dtype=torch.float32).unsqueeze(1) / 16
    train_idx, test_idx = D.digits_split_indices()
    mean, std = raw[train_idx].mean(), raw[train_idx].std()
    assert torch.allclose(x_tr * std + mean, raw[train_idx], atol=1e-5)
    assert torch.allclose(x_te * std + mean, raw[test_idx], atol=1e-5)
    assert raw.min() == 0 and raw.max() == 1


def test_digits_test_split_is_fixed_and_disjoint_from_training():
    train_idx, test_idx = D.digits_split_indices()
    assert len(test_idx) == N_TEST and len(train_idx) == N_TRAIN
    assert not set(train_idx.tolist()) & set(test_idx.tolist())
    assert sorted(train_idx.tolist() + test_idx.tolist()) == list(range(N_DIGITS))
    again_train, again_test = D.digits_split_indices()
    assert torch.equal(train_idx, again_train) and torch.equal(test_idx, again_test)
    # by content too (the 1797 digit images are all distinct)
    train, test, _ = D.load_dataset("digits")
    assert not _rows(train.tensors[0]) & _rows(test.tensors[0])
    assert len(_rows(train.tensors[0]) | _rows(test.tensors[0])) == N_DIGITS


def test_test_loader_is_independent_of_seed_and_rng():
    torch.manual_seed(123)
    x1, y1 = _collect(D.test_loader("digits", "data", False, 100))
    torch.manual_seed(456)
    D.search_loaders("digits", "data", False, 64, seed=9)
    x2, y2 = _collect(D.test_loader("digits", "data", False, 100))
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    _, test, _ = D.load_dataset("digits")
    assert torch.equal(x1, test.tensors[0]) and torch.equal(y1, test.tensors[1])
    # no search, whatever its seed, sees a test example
    for seed in (0, 1):
        search = D.search_loaders("digits", "data", False, 64, seed=seed)
        assert not (_rows(search.train.x) | _rows(search.val.x)) & _rows(x1)


# ---- the search split --------------------------------------------------------------------


def test_search_split_is_disjoint_and_covers_the_training_set():
    search = D.search_loaders("digits", "data", False, 64, train_portion=0.5, seed=0)
    tr, va = search.train_indices.tolist(), search.val_indices.tolist()
    assert not set(tr) & set(va)
    assert sorted(tr + va) == list(range(N_TRAIN))
    assert len(tr) == N_TRAIN // 2
    train, _, _ = D.load_dataset("digits")
    x, y = train.tensors
    # one pass of each stream serves exactly its part, each example once
    for stream, idx in ((search.train, search.train_indices), (search.val, search.val_indices)):
        xs, ys = _collect(stream)
        assert len(xs) == len(idx) and _rows(xs) == _rows(x[idx])
        assert sorted(ys.tolist()) == sorted(y[idx].tolist())
    assert _rows(search.train.x) | _rows(search.val.x) == _rows(x)


def test_train_portion_sets_the_sizes():
    search = D.search_loaders("digits", "data", False, 32, train_portion=0.8, seed=0)
    assert len(search.train_indices) == int(N_TRAIN * 0.8)
    assert len(search.train_indices) + len(search.val_indices) == N_TRAIN
    for bad in (0, 1, 1.5, -0.1):
        with pytest.raises(ValueError, match="train_portion"):
            D.search_loaders("digits", "data", False, 32, train_portion=bad)


def test_search_split_is_deterministic_per_seed_and_differs_across_seeds():
    a = D.search_loaders("digits", "data", False, 64, seed=7)
    b = D.search_loaders("digits", "data", False, 64, seed=7)
    c = D.search_loaders("digits", "data", False, 64, seed=8)
    assert torch.equal(a.train_indices, b.train_indices) and torch.equal(a.val_indices, b.val_indices)
    assert not torch.equal(a.train_indices, c.train_indices)
    pairs_a, pairs_b, pairs_c = (list(s.epoch_batches()) for s in (a, b, c))
    _same_batches([p[0] for p in pairs_a], [p[0] for p in pairs_b])
    _same_batches([p[1] for p in pairs_a], [p[1] for p in pairs_b])
    assert not torch.equal(pairs_a[0][0][1], pairs_c[0][0][1])
    # train and val orders are independent streams, and each epoch is reshuffled
    assert not torch.equal(pairs_a[0][0][1], pairs_a[0][1][1])
    assert not torch.equal(pairs_a[0][0][1], next(a.epoch_batches())[0][1])


def test_search_does_not_touch_the_global_rng():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    search = D.search_loaders("digits", "data", False, 64, seed=3)
    list(search.epoch_batches())
    assert torch.equal(torch.rand(3), expected)


# ---- epochs and batches ----------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [64, 100, 719, 1000])
def test_steps_per_epoch_counts_full_and_partial_batches(batch_size):
    search = D.search_loaders("digits", "data", False, batch_size, seed=0)
    n_train = len(search.train_indices)
    assert search.steps_per_epoch == math.ceil(n_train / batch_size) == len(search.train)
    pairs = list(search.epoch_batches())
    assert len(pairs) == search.steps_per_epoch
    assert sum(len(tb[1]) for tb, _ in pairs) == n_train
    for (xt, yt), (xv, yv) in pairs:
        assert xt.shape[1:] == (1, 8, 8) and len(xt) == len(yt) and len(xv) == len(yv) <= batch_size
        assert xt.device.type == "cpu"
    assert len(list(search.epoch_batches(max_steps=2))) == min(2, search.steps_per_epoch)


def test_val_stream_cycles_independently():
    # a small val part: the architecture side needs more batches per epoch than it has
    search = D.search_loaders("digits", "data", False, 64, train_portion=0.8, seed=0)
    assert len(search.val) < search.steps_per_epoch
    labels = [vb[1] for _, vb in search.epoch_batches()]
    assert len(labels) == search.steps_per_epoch
    first_pass = torch.cat(labels[: len(search.val)])
    assert sorted(first_pass.tolist()) == sorted(search.val.y.tolist())
    # the second pass over val is a fresh permutation
    assert not torch.equal(labels[0], labels[len(search.val)])


def test_val_batches_measure_the_whole_val_part_without_moving_the_stream():
    a = D.search_loaders("digits", "data", False, 64, seed=2)
    b = D.search_loaders("digits", "data", False, 64, seed=2)
    list(a.epoch_batches(max_steps=3))
    list(b.epoch_batches(max_steps=3))
    before = copy.deepcopy(a.state_dict())
    x, y = _collect(a.val_batches())
    train, _, _ = D.load_dataset("digits")
    assert torch.equal(x, train.tensors[0][a.val_indices]) and torch.equal(y, train.tensors[1][a.val_indices])
    assert torch.equal(_collect(a.val_batches())[0], x)  # fixed order
    after = a.state_dict()
    assert after["val"]["position"] == before["val"]["position"]
    assert torch.equal(after["val"]["order"], before["val"]["order"])
    _same_batches([p[1] for p in a.epoch_batches()], [p[1] for p in b.epoch_batches()])


def test_capped_epochs_continue_through_the_split():
    search = D.search_loaders("digits", "data", False, 64, seed=0)
    steps = search.steps_per_epoch
    capped = [tb for _ in range(3) for tb, _ in search.epoch_batches(max_steps=4)]
    full = [tb for tb, _ in D.search_loaders("digits", "data", False, 64, seed=0).epoch_batches()]
    _same_batches(capped[:steps], full[: len(capped[:steps])])


def test_train_loader_covers_the_training_set_each_epoch():
    loader = D.train_loader("digits", "data", False, 128, seed=0)
    train, _, _ = D.load_dataset("digits")
    assert len(loader) == math.ceil(N_TRAIN / 128)
    y1 = _collect(loader)[1]
    y2 = _collect(loader)[1]
    assert sorted(y1.tolist()) == sorted(train.tensors[1].tolist()) == sorted(y2.tolist())
    assert not torch.equal(y1, y2)  # reshuffled each epoch


# ---- resume ------------------------------------------------------------------------------


def test_state_save_restore_reproduces_the_following_batches():
    search = D.search_loaders("digits", "data", False, 64, seed=5)
    list(search.epoch_batches())
    list(search.epoch_batches(max_steps=3))  # stop mid-epoch
    buffer = io.BytesIO()
    torch.save(search.state_dict(), buffer)
    expected = [p for _ in range(2) for p in search.epoch_batches()]

    resumed = D.search_loaders("digits", "data", False, 64, seed=5)
    buffer.seek(0)
    resumed.load_state_dict(torch.load(buffer, weights_only=False))
    got = [p for _ in range(2) for p in resumed.epoch_batches()]
    _same_batches([p[0] for p in got], [p[0] for p in expected])
    _same_batches([p[1] for p in got], [p[1] for p in expected])


def test_state_of_a_fresh_stream_and_of_an_exhausted_pass():
    stream = D.train_loader("digits", "data", False, 500, seed=1)
    fresh = copy.deepcopy(stream.state_dict())
    first = list(stream)
    at_pass_end = copy.deepcopy(stream.state_dict())
    second = list(stream)
    stream.load_state_dict(fresh)
    _same_batches(list(stream), first)
    stream.load_state_dict(at_pass_end)
    _same_batches(list(stream), second)


def test_mismatched_state_is_refused():
    a = D.search_loaders("digits", "data", False, 64, seed=0)
    b = D.search_loaders("digits", "data", False, 32, seed=0)
    with pytest.raises(ValueError, match="batches of"):
        b.load_state_dict(a.state_dict())


def test_augmented_tensor_batches_resume_exactly():
    x = torch.randn(40, 3, 32, 32)
    y = torch.arange(40)
    stream = D.TensorBatches(x, y, 16, seed=2, augment=True, fill=(-1.0, -2.0, -3.0))
    stream.next_batch()
    state = copy.deepcopy(stream.state_dict())
    expected = [stream.next_batch() for _ in range(5)]
    again = D.TensorBatches(x, y, 16, seed=2, augment=True, fill=(-1.0, -2.0, -3.0))
    again.load_state_dict(state)
    _same_batches([again.next_batch() for _ in range(5)], expected)
    xb, yb = expected[0]
    assert xb.shape == (16, 3, 32, 32)
    # each augmented image is a shifted/flipped crop: its centre 24x24 block is in the original
    for img, label in zip(xb, yb):
        src = x[label]
        candidates = [src, src.flip(-1)]
        centre = img[:, 4:28, 4:28]
        assert any((centre.unsqueeze(0) == c.unfold(1, 24, 1).unfold(2, 24, 1).permute(1, 2, 0, 3, 4)
                    .reshape(-1, 3, 24, 24)).flatten(1).all(1).any() for c in candidates)


# ---- errors ------------------------------------------------------------------------------


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(D.DataError) as info:
        D.load_dataset("imagenet")
    message = str(info.value)
    assert "imagenet" in message
    for name in ("digits", "cifar10", "mnist", "svhn"):
        assert name in message
    assert isinstance(info.value, ValueError)
    with pytest.raises(D.DataError):
        D.search_loaders("nope", "data", False, 64)


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "mnist", "fashionmnist", "svhn"])
def test_missing_torchvision_dataset_says_where_and_how(tmp_path, name):
    with pytest.raises(D.DataError) as info:
        D.load_dataset(name, tmp_path, download=False)
    message = str(info.value)
    assert name in message and str(tmp_path / name) in message
    assert "--download" in message and "download=true" in message and "copy" in message
    assert not (tmp_path / name).exists()  # nothing was fetched or created


def test_empty_torchvision_folder_gives_the_same_error(tmp_path):
    (tmp_path / "cifar10").mkdir()
    with pytest.raises(D.DataError, match="--download"):
        D.search_loaders("cifar10", tmp_path, False, 64)


def test_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        D.search_loaders("digits", "data", False, 0)


# ---- the torchvision path, on a tiny fake MNIST folder (no network) --------------------------


def _write_idx(path, array: np.ndarray) -> None:
    header = struct.pack(">I", 0x0800 + array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def fake_mnist(tmp_path):
    raw = tmp_path / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.RandomState(0)
    for prefix, n in (("train", 50), ("t10k", 12)):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.randint(0, 256, (n, 28, 28)))
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
    return tmp_path


def test_torchvision_dataset_loads_into_memory(fake_mnist):
    search = D.search_loaders("mnist", fake_mnist, False, 8, seed=0)
    assert isinstance(search.train, D.TensorBatches)
    assert search.steps_per_epoch == math.ceil(25 / 8)
    (xt, yt), _ = next(search.epoch_batches())
    assert xt.shape == (8, 1, 28, 28) and xt.dtype == torch.float32
    test = D.test_loader("mnist", fake_mnist, False, 5)
    assert sum(len(y) for _, y in test) == 12


def test_dataloader_path_matches_the_in_memory_path(fake_mnist, monkeypatch):
    in_memory = D.search_loaders("mnist", fake_mnist, False, 8, seed=4)
    expected = [p for _ in range(2) for p in in_memory.epoch_batches()]
    monkeypatch.setattr(D, "IN_MEMORY_MAX_BYTES", 0)
    loader = D.search_loaders("mnist", fake_mnist, False, 8, seed=4)
    assert isinstance(loader.train, D.LoaderBatches) and isinstance(loader.val, D.LoaderBatches)
    got = [p for _ in range(2) for p in loader.epoch_batches()]
    for (tg, vg), (te, ve) in zip(got, expected):
        assert torch.allclose(tg[0], te[0], atol=1e-5) and torch.equal(tg[1], te[1])
        assert torch.allclose(vg[0], ve[0], atol=1e-5) and torch.equal(vg[1], ve[1])
    # resume mid-epoch on the DataLoader path
    loader = D.search_loaders("mnist", fake_mnist, False, 8, seed=4)
    list(loader.epoch_batches(max_steps=2))
    state = copy.deepcopy(loader.state_dict())
    after = [p[0] for p in loader.epoch_batches()]
    resumed = D.search_loaders("mnist", fake_mnist, False, 8, seed=4)
    resumed.load_state_dict(state)
    _same_batches([p[0] for p in resumed.epoch_batches()], after)
    # measuring the val part mid-epoch neither skips nor repeats a stream batch
    resumed.load_state_dict(state)
    next(resumed.epoch_batches())
    xv, yv = _collect(resumed.val_batches())
    assert torch.equal(yv, in_memory.val.y) and torch.allclose(xv, in_memory.val.x, atol=1e-5)
    _same_batches([p[0] for p in resumed.epoch_batches()][:2], after[1:3])


def test_dataloader_path_with_a_worker(fake_mnist, monkeypatch):
    monkeypatch.setattr(D, "IN_MEMORY_MAX_BYTES", 0)
    loader = D.test_loader("mnist", fake_mnist, False, 5, num_workers=1)
    assert loader.loader.persistent_workers
    first = list(loader)
    second = list(loader)
    _same_batches(first, second)
    assert sum(len(y) for _, y in first) == 12
