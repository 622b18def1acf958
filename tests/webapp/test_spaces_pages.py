"""Saved search spaces: the service (save, versions, immutability, names), the engine's source (name and name@N),
the Spaces pages (list, check with problems by place, preview, save, detail, 404), and experiments on a saved space
(the form offers it, the version is pinned, the pages link it)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test import Client

from nascore.spaces import get_space, space_choices
from tests.webapp.support import SEARCH_FORM, form_data, login, unsent_experiment
from webapp.experiments.forms.experiment import ExperimentForm
from webapp.experiments.models import Experiment, SavedSpace
from webapp.experiments.selectors import spaces as saved_spaces
from webapp.experiments.services import spaces as actions

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parents[1] / "nascore" / "spaces"
LADDER = (DOCS / "ladder.yaml").read_text()
FORK = (DOCS / "fork.yaml").read_text()


def renamed(text: str, name: str, **changes: Any) -> str:
    data = yaml.safe_load(text)
    data.update(name=name, **changes)
    return yaml.safe_dump(data, sort_keys=False)


# ---- the service ---------------------------------------------------------------------------------------------------
def test_save_stores_version_one_then_the_next_versions(alice: Any) -> None:
    first = actions.save(alice, LADDER)
    assert (first.name, first.version, first.owner, first.document) == ("ladder", 1, alice, LADDER)
    assert first.summary["architectures"] and first.summary["supernet_parameters"] > 0
    second = actions.save(alice, renamed(LADDER, "ladder", title="Ladder, again"), of="ladder")
    assert (second.version, second.title) == (2, "Ladder, again")
    first.refresh_from_db()
    assert first.document == LADDER and first.version == 1  # the first version is unchanged
    assert saved_spaces.latest("ladder") == second


def test_a_built_in_name_and_another_owners_name_are_refused(alice: Any, bob: Any) -> None:
    with pytest.raises(actions.SpaceInvalid) as exc:
        actions.save(alice, renamed(LADDER, "darts"))
    assert "built-in" in exc.value.errors["name"]
    actions.save(alice, LADDER)
    with pytest.raises(actions.SpaceInvalid) as exc:
        actions.save(bob, LADDER)
    assert "another user" in exc.value.errors["name"]
    assert SavedSpace.objects.count() == 1


def test_an_invalid_document_creates_nothing_and_names_every_problem(alice: Any) -> None:
    data = yaml.safe_load(LADDER)
    data["cells"]["rung"]["edges"][3] = {"from": 2, "to": 9}
    data["rule"]["kind"] = "best"
    with pytest.raises(actions.SpaceInvalid) as exc:
        actions.save(alice, yaml.safe_dump(data))
    assert "rule.kind" in exc.value.errors
    with pytest.raises(actions.SpaceInvalid) as exc:
        actions.save(alice, "name: [unclosed")
    assert any(place.startswith("line") for place in exc.value.errors)
    data = yaml.safe_load(LADDER)
    data["cells"]["rung"]["edges"][3] = {"from": 2, "to": 9}
    with pytest.raises(actions.SpaceInvalid) as exc:
        actions.save(alice, yaml.safe_dump(data))
    assert "cells.rung.edges[3]" in exc.value.errors
    assert not SavedSpace.objects.exists()


def test_a_new_version_keeps_its_name(alice: Any) -> None:
    actions.save(alice, LADDER)
    with pytest.raises(actions.SpaceInvalid) as exc:
        actions.save(alice, FORK, of="ladder")
    assert "keeps its name" in exc.value.errors["name"]


def test_the_source_resolves_name_and_name_at_version(alice: Any) -> None:
    actions.save(alice, LADDER)
    actions.save(alice, renamed(LADDER, "ladder", title="second"), of="ladder")
    assert get_space("ladder").title == "second"
    assert get_space("ladder@1").title.startswith("Ladder cell")
    assert get_space("ladder@2") is get_space("ladder@2")  # parsed once
    with pytest.raises(KeyError):
        get_space("ladder@3")
    assert "ladder" in space_choices()


# ---- pages ---------------------------------------------------------------------------------------------------------
def test_the_list_shows_builtins_with_exports_and_saved_spaces(client: Client, alice: Any) -> None:
    actions.save(alice, LADDER)
    html = login(client, alice).get("/spaces/").content.decode()
    assert 'id="builtin-spaces"' in html and 'href="/spaces/darts/document.yaml"' in html
    row = html.split('id="saved-spaces"')[1].split('data-name="ladder"')[1].split("</tr>")[0]
    assert 'href="/spaces/ladder/"' in row and "alice" in row
    assert 'href="/spaces/"' in html  # in the navigation
    export = client.get("/spaces/darts/document.yaml")
    assert export.status_code == 200 and yaml.safe_load(export.content)["name"] == "darts"


def test_check_lists_every_problem_by_its_place(client: Client, alice: Any) -> None:
    data = yaml.safe_load(LADDER)
    data["cells"]["rung"]["edges"][3] = {"from": 2, "to": 9}
    data["ops"][2] = {"family": "dil_conv", "kernel": 4}
    response = login(client, alice).post("/spaces/new", {"document": yaml.safe_dump(data), "action": "check"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-place="cells.rung.edges[3]"' in html and 'data-place="ops[2]"' in html
    assert 'id="space-preview"' not in html
    assert not SavedSpace.objects.exists()


def test_check_previews_the_cells_the_skeleton_and_the_counts_at_a_size(client: Client, alice: Any) -> None:
    response = login(client, alice).post("/spaces/new", {"document": FORK, "action": "check", "channels": 4,
                                                         "layers": 5})
    html = response.content.decode()
    summary = actions.check(FORK, 4, 5).summary
    counts = html.split('id="space-counts"')[1].split("</ul>")[0]
    assert f"{summary['supernet_parameters']:,} supernet parameters at 4 channels and 5 layers" in counts
    assert f"{int(summary['architectures']):,} architectures" in counts
    assert f"{summary['architecture_parameters']:,} architecture parameters" in counts
    assert html.count('<svg class="cell-graph"') == 2 and 'data-cell-type="shrink"' in html
    assert "nor_conv_3x3" in html and 'class="macro-graph"' in html
    assert not SavedSpace.objects.exists()
    assert "Save stores it as fork@1, a new space of yours." in html
    too_small = client.post("/spaces/new", {"document": FORK, "action": "check", "layers": 1}).content.decode()
    assert 'data-place="layers"' in too_small and 'id="space-preview"' not in too_small


def test_save_then_the_detail_page_and_a_new_version(client: Client, alice: Any, bob: Any) -> None:
    response = login(client, alice).post("/spaces/new", {"document": LADDER, "action": "save"})
    assert response.status_code == 302 and response["Location"] == "/spaces/ladder@1/"
    html = client.get("/spaces/ladder/").content.decode()
    assert "version 1" in html and "Ladder cell" in html and 'id="space-preview"' in html
    assert 'href="/spaces/new?of=ladder"' in html and "ladder@1" in html
    form = client.get("/spaces/new?of=ladder").content.decode()
    assert "sep_conv_7x7" in form  # pre-filled with the latest document
    response = client.post("/spaces/new", {"document": renamed(LADDER, "ladder", title="Two"), "action": "save",
                                           "of": "ladder"})
    assert response["Location"] == "/spaces/ladder@2/"
    assert "Two" in client.get("/spaces/ladder/").content.decode()
    old = client.get("/spaces/ladder@1/").content.decode()
    assert "Ladder cell" in old and 'data-version="2"' in old
    assert client.get("/spaces/ladder/v1/").status_code == 200
    assert client.get("/spaces/ladder@1/document.yaml").content.decode() == LADDER
    # bob sees it but cannot add a version
    assert login(client, bob).get("/spaces/ladder/").status_code == 200
    assert client.get("/spaces/new?of=ladder").status_code == 404


def test_an_unknown_space_is_a_404_page(client: Client, alice: Any) -> None:
    login(client, alice)
    for url in ("/spaces/nothing/", "/spaces/darts@2/", "/spaces/Bad-Name/", "/spaces/nothing/document.yaml"):
        assert client.get(url).status_code == 404, url


def test_a_builtin_detail_page_is_read_only(client: Client, alice: Any) -> None:
    html = login(client, alice).get("/spaces/nb201/").content.decode()
    assert "built in (read-only)" in html and 'id="new-version"' not in html and 'id="space-preview"' in html


def test_the_pages_need_a_login(client: Client) -> None:
    assert client.get("/spaces/")["Location"].startswith("/accounts/login")


# ---- experiments on a saved space ----------------------------------------------------------------------------------
def test_the_form_offers_a_saved_space(client: Client, alice: Any) -> None:
    actions.save(alice, LADDER)
    assert ("ladder", "ladder: Ladder cell (sparse edges, family ops)") in ExperimentForm().fields["space"].choices
    assert '<option value="ladder"' in login(client, alice).get("/experiments/new").content.decode()


def test_an_experiment_on_a_saved_space_pins_its_version_and_links_it(client: Client, alice: Any) -> None:
    actions.save(alice, LADDER)
    config = {"space": "ladder", "dataset": "digits", "epochs": 1, "channels": 4, "steps_per_epoch": 2,
              "device": "cpu"}
    exp = unsent_experiment(alice, "on ladder", config)
    assert exp.config["space"] == "ladder@1" and exp.space == "ladder@1"
    actions.save(alice, renamed(LADDER, "ladder", title="second"), of="ladder")
    html = login(client, alice).get(f"/experiments/{exp.pk}/").content.decode()
    assert 'href="/spaces/ladder@1/"' in html
    assert '<a href="/spaces/ladder@1/">ladder@1</a>' in client.get("/").content.decode()  # the list links it too
    page = client.get("/spaces/ladder@1/").content.decode()
    assert f'href="/experiments/{exp.pk}/"' in page
    assert client.get("/leaderboard/?space=ladder@1&dataset=digits").status_code == 200
    assert client.get("/leaderboard/?space=ladder@7&dataset=digits").status_code == 400
    listed = client.get("/spaces/").content.decode().split('id="saved-spaces"')[1].split('data-name="ladder"')[1]
    assert "1 (v1: 1)" in listed.split("</tr>")[0]
    assert 'data-version="1"' in page


def test_the_form_creates_an_experiment_on_a_saved_space(client: Client, alice: Any, monkeypatch: Any) -> None:
    from webapp.experiments.services import experiments as exp_services

    monkeypatch.setattr(exp_services, "_send", lambda e: None)
    actions.save(alice, FORK)
    response = login(client, alice).post("/experiments/new", form_data(SEARCH_FORM, space="fork", layers=3))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Experiment.objects.get().space == "fork@1"


def test_the_admin_lists_versions_read_only(client: Client, alice: Any, make_user: Any) -> None:
    from django.contrib.auth import get_user_model

    row = actions.save(alice, LADDER)
    staff = make_user("admin", staff=True)
    get_user_model().objects.filter(pk=staff.pk).update(is_superuser=True)
    login(client, staff)
    listing = client.get("/admin/experiments/savedspace/").content.decode()
    assert "ladder" in listing and "alice" in listing and 'href="/spaces/ladder@1/"' in listing
    page = client.get(f"/admin/experiments/savedspace/{row.pk}/change/")
    assert page.status_code == 200 and "sep_conv_7x7" in page.content.decode() and 'name="document"' not in page.content.decode()
    assert client.get("/admin/experiments/savedspace/add/").status_code == 403


def test_pages_exports_and_retraining_of_a_saved_space_run_with_an_edge_ops_genotype(client: Client, alice: Any,
                                                                                      monkeypatch: Any) -> None:
    """A finished search on a saved space whose genotype is one op per edge row: the detail page sends the cells'
    shapes so the script draws them, the comparison marks the right edges, exports and a retrain work."""
    import json

    from webapp.experiments.models import Event, Result, Status
    from webapp.experiments.services import experiments as exp_services
    from webapp.experiments.services.retrain import create_retrain

    monkeypatch.setattr(exp_services, "_send", lambda e: None)
    actions.save(alice, LADDER)
    config = {"space": "ladder", "dataset": "digits", "epochs": 1, "channels": 4, "steps_per_epoch": 2,
              "device": "cpu"}
    genotypes = [{"rung": ["dil_conv_5x5", "sep_conv_7x7", "skip_connect", "dil_conv_5x5", "skip_connect", "none"]},
                 {"rung": ["dil_conv_5x5", "sep_conv_7x7", "skip_connect", "dil_conv_5x5", "skip_connect",
                           "sep_conv_7x7"]}]
    runs = []
    for k, genotype in enumerate(genotypes):
        exp = unsent_experiment(alice, f"ladder {k}", config, status=Status.FINISHED)
        Result.objects.create(experiment=exp, genotype=genotype, val_acc=0.5, best_val_acc=0.5, epochs_completed=1)
        Event.objects.create(experiment=exp, seq=1, type="genotype", payload={"epoch": 1, "genotype": genotype})
        runs.append(exp)
    login(client, alice)
    html = client.get(f"/experiments/{runs[0].pk}/").content.decode()
    page_config = json.loads(html.split('id="page-config" type="application/json">')[1].split("</script>")[0])
    assert page_config["cellShapes"]["rung"] == {"inputs": [0], "nodes": [1, 2, 3, 4], "output": 4,
                                                 "edges": [[0, 1], [1, 2], [0, 2], [2, 3], [1, 4], [3, 4]]}
    compare = client.get(f"/compare/?ids={runs[0].pk},{runs[1].pk}")
    assert compare.status_code == 200
    cfg = json.loads(compare.content.decode().split('id="compare-config" type="application/json">')[1].split("</script>")[0])
    assert cfg["cells"][1]["differing"] == {"rung": [["3", "4", "sep_conv_7x7"]]}
    assert cfg["cells"][0]["differing"] == {"rung": []}  # its "none" edge is no edge
    assert client.get(f"/api/experiments/{runs[0].pk}/events").status_code == 200
    assert "ladder@1" in b"".join(client.get("/experiments/export.csv").streaming_content).decode()
    assert client.get("/experiments/export.json").status_code == 200
    retrain = create_retrain(runs[1], {"epochs": 1})
    assert retrain.space == "ladder@1"
    assert client.get(f"/experiments/{retrain.pk}/").status_code == 200


def test_run_again_keeps_the_saved_version(client: Client, alice: Any) -> None:
    actions.save(alice, LADDER)
    exp = unsent_experiment(alice, "on ladder", {"space": "ladder", "dataset": "digits", "epochs": 1, "channels": 4,
                                                 "steps_per_epoch": 2, "device": "cpu"})
    html = login(client, alice).get(f"/experiments/new?from={exp.pk}").content.decode()
    assert '<option value="ladder@1" selected>' in html


def test_an_uploaded_document_is_checked_and_saved(client: Client, alice: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    login(client, alice)
    upload = SimpleUploadedFile("fork.yaml", FORK.encode(), content_type="application/yaml")
    html = client.post("/spaces/new", {"upload": upload, "action": "check"}).content.decode()
    assert 'id="space-preview"' in html and "shrink" in html
    upload = SimpleUploadedFile("fork.yaml", FORK.encode(), content_type="application/yaml")
    response = client.post("/spaces/new", {"upload": upload, "action": "save"})
    assert response["Location"] == "/spaces/fork@1/" and SavedSpace.objects.get().document == FORK


def test_documents_too_large_for_the_server_are_refused_by_place(alice: Any) -> None:
    bomb = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"
    assert "aliases" in actions.check(bomb).problems["document"]
    data = yaml.safe_load(LADDER)
    data["cells"]["rung"]["nodes"] = list(range(1, 200))
    assert "at most 32 nodes" in actions.check(yaml.safe_dump(data)).problems["cells.rung.nodes"]
    data = yaml.safe_load(LADDER)
    data["macro"]["stages"] = 50
    assert "macro.stages" in actions.check(yaml.safe_dump(data)).problems
    data = yaml.safe_load(LADDER)
    data["defaults"] = {"channels": 500, "layers": 1}
    checked = actions.check(yaml.safe_dump(data))
    assert checked.valid and checked.summary["size"]["channels"] == actions.MAX_CHANNELS


def test_check_names_another_users_name(client: Client, alice: Any, bob: Any) -> None:
    actions.save(alice, LADDER)
    html = login(client, bob).post("/spaces/new", {"document": LADDER, "action": "check"}).content.decode()
    row = html.split('data-place="name"')[1].split("</tr>")[0]
    assert "belongs to another user" in row and 'id="save-text"' not in html
    html = login(client, alice).post("/spaces/new", {"document": LADDER, "action": "check"}).content.decode()
    assert "Save stores it as ladder@2, the next version of ladder" in html


def test_the_comparison_reads_pairs_of_a_one_input_cell_on_its_own_nodes() -> None:
    from webapp.experiments.presenters.comparison import cell_edges

    shapes = {"plain": {"inputs": [0], "nodes": [1, 2, 3], "output": [2, 3], "edges": []}}
    genotype = {"plain": [["max_pool_3x3", 0], ["skip_connect", 1], ["sep_conv_9x9", 0]], "plain_concat": [2, 3]}
    assert cell_edges(genotype, shapes)["plain"] == [("0", "1", "max_pool_3x3"), ("1", "2", "skip_connect"),
                                                      ("0", "3", "sep_conv_9x9"), ("2", "out", ""), ("3", "out", "")]
    darts = {"normal": {"inputs": [0, 1], "nodes": [2, 3], "output": [2, 3], "edges": []}}
    pairs = {"normal": [["a", 0], ["b", 1], ["c", 2], ["d", 0]], "normal_concat": [2, 3]}
    assert cell_edges(pairs, darts) == cell_edges(pairs)


def test_a_document_path_is_not_a_space_on_the_server(db):
    """The engine reads a document's path from its own disk; a web request may only name a built-in or saved space,
    and the API's schema says so."""
    from webapp.experiments.api.schemas import search_config_schema
    from webapp.experiments.services.experiments import ExperimentInvalid, clean_config

    with pytest.raises(ExperimentInvalid) as info:
        clean_config({"space": "/etc/passwd.yaml"})
    assert "is a file path" in info.value.errors["space"]
    pattern = [o for o in search_config_schema()["properties"]["space"]["anyOf"] if "pattern" in o][0]["pattern"]
    assert re.fullmatch(pattern, "mine@2") and not re.fullmatch(pattern, "x/y.yaml")


@pytest.mark.parametrize("example", ["fabric", "hierarchical"])
def test_hierarchical_examples_preview_their_macro_graph(client: Client, alice: Any, example: str) -> None:
    text = (Path(__file__).resolve().parents[2] / "nascore" / "spaces" / "examples" / f"{example}.yaml").read_text()
    html = login(client, alice).post("/spaces/new", {"document": text, "action": "check", "channels": 4,
                                                     "layers": 1}).content.decode()
    assert 'id="space-preview"' in html and 'class="macro-graph"' in html
    assert "scale 1:" in html and "the macro level is the searched graph drawn above" in html
    assert html.count('<svg class="cell-graph"') == len(get_space(f"nascore/spaces/examples/{example}.yaml").cell_types)
