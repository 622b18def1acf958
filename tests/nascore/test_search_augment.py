"""Search-time augmentation: DARTS augments both halves of the training set during the search (quark0/darts,
cnn/train_search.py builds train_queue and valid_queue from one CIFAR10 dataset with the transform of
cnn/utils.py ``_data_transforms_cifar10``: RandomCrop(32, padding=4), RandomHorizontalFlip).  NASBoard does the same
on the device, seeded and checkpointed; digits are never flipped; what is measured is never augmented."""
from __future__ import annotations

import copy

import pytest
import torch

from nascore import data as D
from nascore.config import AS_BEFORE, ConfigError, as_stored, validate_config
from nascore.runner import run_search
from tests.nascore.support import stop_after

CIFAR = D.get_spec("cifar10")


def _fake_cifar(n: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    return x, torch.arange(n) % 10


def _stream(augment: str, seed: int = 3, spec: D.DatasetSpec = CIFAR) -> D.BatchStream:
    x, y = _fake_cifar() if spec is CIFAR else (torch.randn(40, 1, 8, 8), torch.arange(40) % 10)
    return D._search_stream(torch.utils.data.TensorDataset(x, y), spec, 8, tensors=(x, y), indices=torch.arange(len(x)),
                            seed=seed, device="cpu", num_workers=0, augment=augment)


def _explain(aug: torch.Tensor, raw: torch.Tensor, padding: int, fill: torch.Tensor) -> list[tuple[int, int, bool]]:
    """Every (dy, dx, flipped) that turns ``raw`` into ``aug``: a crop of the fill-padded image, maybe mirrored."""
    c, h, w = raw.shape
    padded = fill.view(-1, 1, 1).expand(c, h + 2 * padding, w + 2 * padding).clone()
    padded[:, padding:padding + h, padding:padding + w] = raw
    found = []
    for dy in range(2 * padding + 1):
        for dx in range(2 * padding + 1):
            crop = padded[:, dy:dy + h, dx:dx + w]
            for flipped in (False, True):
                if torch.equal(crop.flip(-1) if flipped else crop, aug):
                    found.append((dy, dx, flipped))
    return found


def test_cifar_batches_are_random_crops_of_the_4_pixel_padded_image_and_half_are_flipped():
    raw, aug = _stream("none"), _stream("crop_flip")
    fill = torch.tensor([-m / s for m, s in zip(CIFAR.mean, CIFAR.std)])  # zero padding, then normalised
    flips, moved = [], 0
    for _ in range(5):
        (xr, yr), (xa, ya) = raw.next_batch(), aug.next_batch()
        assert torch.equal(yr, ya)  # same examples, same order: only the pixels change
        for r, a in zip(xr, xa):
            ways = _explain(a, r, 4, fill)
            assert ways, "an augmented image is a 32x32 crop of the image padded by 4, maybe flipped"
            flips.append(all(f for _, _, f in ways))
            moved += not torch.equal(a, r)
    assert moved >= 35 and 10 <= sum(flips) <= 30  # 40 images: nearly all moved, about half flipped


def test_crop_never_flips_and_digits_default_to_no_augmentation():
    raw, crop = _stream("crop"), _stream("none")
    (xc, _), (xr, _) = raw.next_batch(), crop.next_batch()
    fill = torch.tensor([-m / s for m, s in zip(CIFAR.mean, CIFAR.std)])
    assert all(any(not f for _, _, f in _explain(a, r, 4, fill)) for a, r in zip(xc, xr))
    assert D.resolve_augment(D.get_spec("digits"), None) == "none"
    assert D.resolve_augment(CIFAR, None) == "crop_flip" and D.resolve_augment(D.get_spec("cifar100"), None) == "crop_flip"
    assert D.resolve_augment(D.get_spec("mnist"), None) == "none" and D.resolve_augment(D.get_spec("svhn"), None) == "none"
    assert D.crop_padding(D.get_spec("digits")) == 1 and D.crop_padding(CIFAR) == 4


def test_augmentation_is_seeded_and_resumes_mid_epoch_exactly():
    a, b, c = _stream("crop_flip", seed=5), _stream("crop_flip", seed=5), _stream("crop_flip", seed=6)
    first = [a.next_batch()[0] for _ in range(3)]
    assert all(torch.equal(x, b.next_batch()[0]) for x in first)
    assert not torch.equal(first[0], c.next_batch()[0])
    state = copy.deepcopy(a.state_dict())
    after = [a.next_batch()[0] for _ in range(6)]  # crosses into the next pass
    resumed = _stream("crop_flip", seed=5)
    resumed.load_state_dict(state)
    assert all(torch.equal(x, resumed.next_batch()[0]) for x in after)


def test_the_measured_validation_split_is_never_augmented():
    search = D.search_loaders("digits", "data", False, 64, seed=0, augment="crop")
    plain = D.search_loaders("digits", "data", False, 64, seed=0)
    (ta, va), (tp, vp) = next(search.epoch_batches()), next(plain.epoch_batches())
    assert torch.equal(ta[1], tp[1]) and not torch.equal(ta[0], tp[0])  # both halves augmented during the search
    assert torch.equal(va[1], vp[1]) and not torch.equal(va[0], vp[0])
    measured = torch.cat([x for x, _ in search.val_batches()])
    assert torch.equal(measured, torch.cat([x for x, _ in plain.val_batches()]))  # what val_acc is computed on


def test_the_setting_defaults_to_the_dataset_refuses_flipping_digits_and_old_configs_keep_their_meaning():
    assert validate_config({"dataset": "cifar10", "device": "cpu"}).search_augment is None
    with pytest.raises(ConfigError) as err:
        validate_config({"dataset": "digits", "search_augment": "crop_flip", "device": "cpu"})
    assert "mirrored" in err.value.errors["search_augment"] and "use crop or none" in err.value.errors["search_augment"]
    with pytest.raises(ConfigError) as err:
        validate_config({"search_augment": "flip"})
    assert "choose one of: none, crop, crop_flip" in err.value.errors["search_augment"]
    # a config stored before the setting existed ran without augmentation, and still means that
    assert AS_BEFORE["search_augment"] == "none"
    assert as_stored({"dataset": "cifar10"})["search_augment"] == "none"
    assert as_stored({"dataset": "cifar10", "search_augment": None})["search_augment"] is None


TINY = {"space": "s3", "dataset": "digits", "epochs": 2, "channels": 4, "layers": 3, "batch_size": 32,
        "steps_per_epoch": 4, "device": "cpu", "seed": 1, "curvature_every": 0, "search_augment": "crop"}


def test_an_augmented_search_resumed_equals_the_uninterrupted_one(tmp_path):
    full = run_search(TINY, tmp_path / "full").result
    part = run_search(TINY, tmp_path / "part", stop_check=stop_after(TINY["steps_per_epoch"] + 2))
    assert part.status == "cancelled"
    resumed = run_search(TINY, tmp_path / "part").result
    assert resumed["alphas"] == full["alphas"] and resumed["metrics"] == full["metrics"]
    plain = run_search({**TINY, "search_augment": "none"}, tmp_path / "plain").result
    assert plain["alphas"] != full["alphas"]  # the setting reaches the batches
