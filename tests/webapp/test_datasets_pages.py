"""The Datasets pages: the built-in datasets and the user's own in NASBOARD_DATA_DIR, one dataset's counts, samples
and problems; a missing folder: dataset refused when an experiment is created, with nothing created."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.test import Client
from PIL import Image

from tests.webapp.support import SEARCH_FORM, form_data, login, token_for
from webapp.experiments.models import Experiment

pytestmark = pytest.mark.django_db


def image_folder(root: Path, classes: dict[str, int], size: tuple[int, int] = (10, 10)) -> Path:
    rng = np.random.default_rng(0)
    for name, count in classes.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(root / name / f"{i}.png")
    return root


@pytest.fixture
def data_dir(tmp_path: Path, settings: Any) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    settings.NASBOARD_DATA_DIR = folder
    return folder


def test_the_list_shows_builtins_and_the_users_datasets(client: Client, alice: Any, data_dir: Path) -> None:
    image_folder(data_dir / "shapes", {"circle": 3, "square": 3})
    (data_dir / "iris.csv").write_text("a,b,target\n1,2,x\n3,4,y\n")
    html = login(client, alice).get("/datasets/").content.decode()
    assert 'id="builtin-datasets"' in html and "Handwritten digits" in html
    digits_row = html.split('data-name="digits"')[1].split("</tr>")[0]
    assert "ships with scikit-learn" in digits_row
    assert "not in the data folder" in html.split('data-name="cifar10"')[1].split("</tr>")[0]
    assert 'href="/datasets/folder:shapes/"' in html and 'href="/datasets/csv:iris/"' in html
    assert 'href="/datasets/"' in client.get("/").content.decode()  # in the navigation


def test_the_detail_page_counts_classes_shows_samples_and_names_a_corrupt_image(client: Client, alice: Any,
                                                                                data_dir: Path) -> None:
    root = image_folder(data_dir / "shapes", {"circle": 5, "square": 5})
    (root / "square" / "broken.png").write_bytes(b"not an image")
    response = login(client, alice).get("/datasets/folder:shapes/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "11 image files in 2 classes: 9 to train, 2 to test." in html
    assert "Networks see 10x10 images with 3 channels" in html
    assert "<code>square/broken.png</code>: unreadable image" in html
    counts = html.split('id="dataset-counts"')[1].split("</section>")[0]
    assert "<td>circle</td><td class=\"num\">4</td><td class=\"num\">1</td>" in counts
    samples = html.split('id="dataset-samples"')[1].split("</section>")[0]
    assert samples.count('src="data:image/png;base64,') == 8  # four per class; the broken file is left out


def test_a_table_shows_its_first_rows_and_a_builtin_its_facts(client: Client, alice: Any, data_dir: Path) -> None:
    (data_dir / "iris.csv").write_text("a,b,label\n1,2,x\n3,4,y\n5,6,x\n")
    (data_dir / "nasboard.yaml").write_text("target: label\n")  # not the table's own folder: ignored
    html = login(client, alice).get("/datasets/csv:iris/").content.decode()
    assert "no target column &#x27;target&#x27;" in html  # a lone NAME.csv takes the default target
    assert 'id="dataset-rows"' in html and "<td>3</td><td>4</td><td>y</td>" in html
    html = client.get("/datasets/digits/").content.decode()
    assert "Handwritten digits" in html and "8x8" in html


@pytest.mark.parametrize("name", ["nope", "folder:missing", "folder:..", "csv:x%2Fy", "folder:a b"])
def test_a_bad_name_is_a_404_page(client: Client, alice: Any, data_dir: Path, name: str) -> None:
    response = login(client, alice).get(f"/datasets/{name}/")
    assert response.status_code == 404
    assert "Traceback" not in response.content.decode()


def test_a_missing_folder_dataset_is_a_field_error_and_nothing_is_created(client: Client, alice: Any,
                                                                          data_dir: Path) -> None:
    body = {"name": "mine", "config": {"dataset": "folder:missing", "epochs": 1, "device": "cpu"}}
    response = client.post("/api/experiments", json.dumps(body), content_type="application/json", **token_for(alice))
    assert response.status_code == 400
    errors = json.dumps(response.json())
    assert "dataset" in errors and "no folder" in errors
    response = login(client, alice).post("/experiments/new", form_data(SEARCH_FORM, dataset="folder:missing"))
    assert response.status_code == 200 and "folder:missing" in response.content.decode()
    assert Experiment.objects.count() == 0


def test_the_form_offers_the_users_image_folders_and_creates_a_run_on_one(client: Client, alice: Any,
                                                                          data_dir: Path) -> None:
    image_folder(data_dir / "shapes", {"circle": 3, "square": 3})
    html = login(client, alice).get("/experiments/new").content.decode()
    assert '<option value="folder:shapes">' in html
    body = {"name": "mine", "config": {"dataset": "csv:shapes", "epochs": 1, "device": "cpu"}}
    response = client.post("/api/experiments", json.dumps(body), content_type="application/json", **token_for(alice))
    assert response.status_code == 400 and "is a table" in json.dumps(response.json())
    response = client.post("/experiments/new", form_data(SEARCH_FORM, dataset="folder:shapes"))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Experiment.objects.get().config["dataset"] == "folder:shapes"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_browser_shows_the_thumbnails(live_server: Any, page: Any, alice: Any, data_dir: Path) -> None:
    from tests.webapp.browser_support import log_in

    image_folder(data_dir / "shapes", {"circle": 3, "square": 3}, size=(12, 12))
    log_in(page, live_server.url, "alice")
    page.click("nav >> text=Datasets")
    page.click("a[href='/datasets/folder:shapes/']")
    thumbs = page.locator("#dataset-samples img.thumb")
    assert thumbs.count() == 6
    assert all(page.evaluate("(img) => img.complete && img.naturalWidth === 12", thumbs.nth(i).element_handle())
               for i in range(6))
