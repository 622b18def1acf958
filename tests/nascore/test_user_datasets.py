"""The user's own datasets: image folders (both layouts, the split, sizes, channels, the cache, the tensor path, a
real search) and CSV tables (target, errors), the check with every kind of problem, and ``data check``."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nascore import userdata
from nascore.cli import main
from nascore.config import ConfigError, validate_config
from nascore.data import DataError, TensorBatches, get_spec, load_dataset, search_loaders
from nascore.data import test_loader as held_out_loader
from nascore.runner import run_search


def write_images(folder: Path, count: int, size=(8, 8), mode="RGB", seed=0, value=None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
        pixels = rng.integers(0, 256, shape, dtype=np.uint8) if value is None else np.full(shape, value, np.uint8)
        Image.fromarray(pixels, mode=mode).save(folder / f"{i:03d}.png")


def single(root: Path, classes=("cat", "dog", "emu"), count=10, **kw) -> Path:
    for j, name in enumerate(classes):
        write_images(root / name, count, seed=j, **kw)
    return root


def problems(summary) -> list[str]:
    return [f"{Path(p['path']).name}: {p['message']}" for p in summary["problems"]]


# ---- names and config ------------------------------------------------------------------------------------
def test_the_config_takes_folder_and_csv_names_by_form_and_refuses_a_table_for_a_search():
    assert validate_config({"dataset": "folder:my-set_1.v2"}).dataset == "folder:my-set_1.v2"
    with pytest.raises(ConfigError) as exc:
        validate_config({"dataset": "folder:../x"})
    assert "folder:NAME or csv:NAME" in exc.value.errors["dataset"]
    with pytest.raises(ConfigError) as exc:
        validate_config({"dataset": "csv:iris"})
    assert "is a table" in exc.value.errors["dataset"]
    from nascore.data import DataSettings

    schema = DataSettings.model_json_schema()["properties"]["dataset"]
    assert "enum" not in schema and schema["anyOf"][0]["enum"][0] == "cifar10"
    import re
    assert re.search(schema["anyOf"][1]["pattern"], "folder:shapes") and not re.search(schema["anyOf"][1]["pattern"],
                                                                                         "folder:a/b")


def test_a_missing_folder_says_where_it_looked(tmp_path):
    with pytest.raises(DataError, match=f"no folder {tmp_path / 'nope'}"):
        load_dataset("folder:nope", tmp_path)
    with pytest.raises(DataError, match="is a table"):
        load_dataset("csv:nope", tmp_path)
    with pytest.raises(DataError, match="neither"):
        userdata.load_table("csv:nope", tmp_path)


# ---- image folders ------------------------------------------------------------------------------------
def test_a_single_folder_is_split_per_class_with_a_fixed_seed(tmp_path):
    root = single(tmp_path / "pets", count=10)
    write_images(root / "emu", 15, seed=9)  # 15 emus: 3 to test
    a = userdata.load_image_folder(root)
    b = userdata.load_image_folder(root)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)
    assert a.classes == ["cat", "dog", "emu"]
    assert torch.bincount(a.test_y).tolist() == [2, 2, 3] and torch.bincount(a.train_y).tolist() == [8, 8, 12]
    (root / userdata.SETTINGS_FILE).write_text("test_fraction: 0.5\nsplit_seed: 3\n")
    c = userdata.load_image_folder(root)
    assert torch.bincount(c.test_y).tolist() == [5, 5, 8]
    train, test = userdata.split_single({"x": [Path(str(i)) for i in range(10)]}, 0.2, 0)
    train2, test2 = userdata.split_single({"x": [Path(str(i)) for i in range(10)]}, 0.2, 1)
    assert len(test["x"]) == 2 and not set(train["x"]) & set(test["x"]) and test["x"] != test2["x"]


def test_train_and_test_folders_are_used_as_stored(tmp_path):
    root = tmp_path / "split"
    for split, n in (("train", 6), ("test", 2)):
        for j, name in enumerate(("a", "b")):
            write_images(root / split / name, n, seed=j)
    data = userdata.load_image_folder(root)
    assert len(data.train_y) == 12 and len(data.test_y) == 4 and data.classes == ["a", "b"]
    summary = userdata.check_dataset(root)
    assert summary["layout"] == "train/test" and summary["splits"]["test"]["classes"] == {"a": 2, "b": 2}


def test_gray_images_give_one_channel_and_colour_three(tmp_path):
    gray = single(tmp_path / "gray", mode="L", count=3)
    assert userdata.load_image_folder(gray).channels == 1
    mixed = single(tmp_path / "mixed", mode="L", count=3)
    write_images(mixed / "cat", 1, mode="RGB", seed=5)
    data = userdata.load_image_folder(mixed)
    assert data.channels == 3 and data.train_x.shape[1] == 3


def test_resize_and_crop_fit_any_size_to_the_square(tmp_path):
    root = tmp_path / "sizes"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        # a 16x8 image: white in the middle 8 columns, black in the 4 at each side
        pixels = np.zeros((8, 16), np.uint8)
        pixels[:, 4:12] = 255
        for i in range(3):
            Image.fromarray(pixels, mode="L").save(root / name / f"{i}.png")
    data = userdata.load_image_folder(root)  # size: the shorter side, 8; resize squeezes the black sides in
    assert data.image_size == 8 and data.train_x.shape[1:] == (1, 8, 8)
    assert data.train_x[0, 0, 0, 0] < 60 and data.train_x[0, 0, 0, 4] > 200
    (root / userdata.SETTINGS_FILE).write_text("fit: crop\n")
    cropped = userdata.load_image_folder(root)  # the centre 8x8: all white
    assert cropped.image_size == 8 and bool((cropped.train_x > 200).all())
    (root / userdata.SETTINGS_FILE).write_text("fit: crop\nimage_size: 4\n")  # scaled to 8x4 first, then the centre
    small = userdata.load_image_folder(root)
    assert small.train_x.shape[1:] == (1, 4, 4) and bool((small.train_x > 200).all())
    assert userdata.check_dataset(root)["image_size_from"] == "nasboard.yaml"


def test_a_bad_settings_file_names_the_field(tmp_path):
    root = single(tmp_path / "pets", count=3)
    (root / userdata.SETTINGS_FILE).write_text("test_fraction: 1.5\n")
    with pytest.raises(DataError, match="test_fraction must be a number strictly between 0 and 1, not 1.5"):
        userdata.load_image_folder(root)
    (root / userdata.SETTINGS_FILE).write_text("fit: stretch\n")
    summary = userdata.check_dataset(root)
    assert any("unknown fit 'stretch'" in p for p in problems(summary))
    (root / userdata.SETTINGS_FILE).write_text("imagesize: 8\n")
    assert any("unknown setting 'imagesize'; did you mean 'image_size'?" in p for p in problems(
        userdata.check_dataset(root)))


def test_the_cache_gives_identical_tensors_and_follows_changes(tmp_path):
    data_dir = tmp_path / "data"
    single(data_dir / "pets", count=5)
    first, test_first, spec = load_dataset("folder:pets", data_dir)
    cached = list((data_dir / userdata.CACHE_DIR).glob("pets-*.pt"))
    assert len(cached) == 1
    again, test_again, spec2 = load_dataset("folder:pets", data_dir)
    assert torch.equal(first.tensors[0], again.tensors[0]) and torch.equal(test_first.tensors[1], test_again.tensors[1])
    assert spec == spec2 and spec.in_channels == 3 and spec.num_classes == 3 and spec.image_size == 8
    assert abs(float(first.tensors[0].mean())) < 1e-4  # normalised by the training split's statistics
    assert userdata.load_image_folder(data_dir / "pets", data_dir / userdata.CACHE_DIR, "pets").from_cache
    write_images(data_dir / "pets" / "cat", 6, seed=7)  # one more cat: a new fingerprint, the old file goes
    bigger, _, _ = load_dataset("folder:pets", data_dir)
    assert len(bigger) == len(first) + 1
    assert len(list((data_dir / userdata.CACHE_DIR).glob("pets-*.pt"))) == 1


def test_a_folder_dataset_takes_the_fast_tensor_path_and_searches(tmp_path):
    data_dir = tmp_path / "data"
    for j, name in enumerate(("dark", "light")):
        write_images(data_dir / "tones" / name, 24, value=40 + 170 * j, size=(8, 8), mode="L")
    search = search_loaders("folder:tones", data_dir, False, 8)
    assert isinstance(search.train, TensorBatches) and search.spec.in_channels == 1
    assert isinstance(held_out_loader("folder:tones", data_dir, False, 8), TensorBatches)
    assert get_spec("folder:tones", data_dir).num_classes == 2
    cfg = {"space": "s3", "dataset": "folder:tones", "data_dir": str(data_dir), "epochs": 2, "channels": 4,
           "layers": 3, "batch_size": 8, "steps_per_epoch": 3, "device": "cpu", "seed": 0, "curvature_every": 0}
    outcome = run_search(cfg, tmp_path / "run")
    assert outcome.status == "finished"
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["config"]["dataset"] == "folder:tones"
    assert len(result["genotype"]["normal"]) > 0


# ---- checking -----------------------------------------------------------------------------------------
def test_the_check_names_every_problem_and_never_stops(tmp_path):
    root = tmp_path / "messy"
    for split in ("train", "test"):
        write_images(root / split / "cat", 3)
    write_images(root / "train" / "dog", 2)  # dog only in train
    (root / "train" / "empty").mkdir()  # an empty class folder
    (root / "train" / "cat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")  # corrupt
    (root / "train" / "cat" / "notes.txt").write_text("not an image: ignored")
    summary = userdata.check_dataset(root)
    found = problems(summary)
    assert any(p.startswith("broken.png: unreadable image") for p in found)
    assert "empty: empty class folder (no image files)" in found
    assert "test: class 'dog' is in train/ but not in test/" in found
    assert "test: class 'empty' is in train/ but not in test/" in found
    assert summary["splits"]["train"]["classes"]["cat"] == 4 and summary["channels"] == 3
    assert summary["image_sizes"] == {"min": [8, 8], "max": [8, 8], "most_common": [8, 8], "distinct": 1}
    json.dumps(summary)  # JSON-able
    with pytest.raises(DataError, match="cannot be read: .*broken.png"):
        userdata.load_image_folder(root)


def test_the_check_reports_sizes_seen(tmp_path):
    root = tmp_path / "sizes"
    write_images(root / "a", 3, size=(10, 6))
    write_images(root / "b", 1, size=(20, 30))
    summary = userdata.check_dataset(root)
    assert summary["image_sizes"] == {"min": [10, 6], "max": [20, 30], "most_common": [10, 6], "distinct": 2}
    assert summary["image_size"] == 6 and "most common image size (10x6)" in summary["image_size_from"]


# ---- tables -------------------------------------------------------------------------------------------------
def test_a_table_loads_as_float_features_and_sorted_class_indices(tmp_path):
    (tmp_path / "iris.csv").write_text("a,b,target\n1,2.5,10\n3,4,9\n5,6,10\n")
    table = userdata.load_table("csv:iris", tmp_path)
    assert table.features == ["a", "b"] and table.classes == ["9", "10"]  # numeric labels sorted as numbers
    assert table.x.dtype == torch.float32 and table.x.tolist() == [[1, 2.5], [3, 4], [5, 6]]
    assert table.y.tolist() == [1, 0, 1]
    folder = tmp_path / "wine"
    folder.mkdir()
    (folder / "data.csv").write_text("x,label\n0.1,red\n0.2,white\n")
    (folder / userdata.SETTINGS_FILE).write_text("target: label\n")
    wine = userdata.load_table("csv:wine", tmp_path)
    assert wine.target == "label" and wine.classes == ["red", "white"]
    (tmp_path / "pq.csv").write_text("p,q\n1,2\n3,4\n")
    assert userdata.load_table(tmp_path / "pq.csv", target="q").classes == ["2", "4"]  # --target names it
    assert userdata.list_user_datasets(tmp_path) == ["csv:iris", "csv:pq", "csv:wine"]


def test_table_problems_are_named(tmp_path):
    (tmp_path / "bad.csv").write_text("a,colour,label\n1,red,x\n2,blue,y\n")
    summary = userdata.check_dataset(tmp_path / "bad.csv")
    found = problems(summary)
    assert any("no target column 'target'" in p for p in found)
    assert any("feature column 'colour' is not numeric (for example 'red')" in p for p in found)
    assert [c["type"] for c in summary["columns"]] == ["number", "text", "text"] and len(summary["rows"]) == 2
    with pytest.raises(DataError, match="no target column"):
        userdata.load_table(tmp_path / "bad.csv")
    ok = userdata.check_dataset(tmp_path / "bad.csv", target="label")
    assert [p["message"] for p in ok["problems"]] == ["feature column 'colour' is not numeric (for example 'red')"]
    (tmp_path / "empty.csv").write_text("")
    assert problems(userdata.check_dataset(tmp_path / "empty.csv")) == ["empty.csv: empty CSV: no header row"]
    (tmp_path / "header.csv").write_text("a,target\n")
    assert "header.csv: empty CSV: a header but no rows" in problems(userdata.check_dataset(tmp_path / "header.csv"))


# ---- the command line ----------------------------------------------------------------------------------------
def test_data_check_exit_codes_and_json(tmp_path, capsys):
    root = single(tmp_path / "data" / "pets", count=3)
    assert main(["data", "check", str(root)]) == 0
    out = capsys.readouterr().out
    assert "layout: single" in out and "problems: none" in out and "cat" in out
    assert main(["data", "check", "folder:pets", "--data-dir", str(tmp_path / "data"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["kind"] == "images" and summary["classes"] == ["cat", "dog", "emu"]
    (root / "dog" / "bad.jpg").write_bytes(b"nope")
    assert main(["data", "check", str(root)]) == 1
    assert "bad.jpg: unreadable image" in capsys.readouterr().out
    assert main(["data", "check", str(tmp_path / "absent")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "t.csv").write_text("a,y\n1,p\n")
    assert main(["data", "check", str(tmp_path / "t.csv"), "--target", "y", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["target"] == "y"
