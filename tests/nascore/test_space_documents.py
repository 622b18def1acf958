"""Search spaces written as documents: the built-ins round-trip through their exported documents to the same
networks and genotypes, every problem of a bad document is named by its place, and every method family runs on
two spaces that no built-in resembles (tests/nascore/spaces/ladder.yaml and fork.yaml)."""
import json
from pathlib import Path

import pytest
import torch

from nascore.cli import main
from nascore.config import ConfigError, validate_config
from nascore.evaluation.train import evaluate_genotype
from nascore.events import read_events
from nascore.networks.edges import mixed_op_factory
from nascore.runner import run_search
from nascore.spaces import SPACES, DocumentError, get_space
from nascore.spaces.document import check_document, dump, load_space, read_text
from nascore.spaces.summary import summarize

HERE = Path(__file__).parent / "spaces"
LADDER, FORK = str(HERE / "ladder.yaml"), str(HERE / "fork.yaml")


def params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def reloaded(name: str, as_json: bool) -> object:
    """A built-in read back from the document ``space export`` prints."""
    return load_space(read_text(dump(SPACES[name].to_document(), as_json=as_json)))


# ---- the built-ins, round-tripped ------------------------------------------------------------------------------
#: parameter counts of the spaces as Python classes, before they became documents (e597535); DARTS V2 at C=36 and
#: 20 cells is the paper's 3.3M (Liu et al., ICLR 2019, table 1), its supernet at C=16 and 8 cells 1.93M
BEFORE = {("darts_v2", 36, 20, False): 3349342, ("darts_v2", 36, 20, True): 3825768,
          ("darts_v1", 36, 20, False): 3169414, ("nasnet", 36, 20, False): 3830950,
          ("amoebanet", 36, 20, False): 3145078}
SUPERNETS_BEFORE = {"darts": 1930618, "s1": 405146, "s2": 665466, "s3": 665466, "s4": 624506, "nb201": 1686106}
NB201_BEFORE = {"nb201_best": 1288506, "nb201_resnet": 559386, "nb201_all_skip": 73306}


@pytest.mark.parametrize("as_json", [False, True])
def test_darts_networks_round_trip_to_the_same_parameter_counts(as_json):
    space = reloaded("darts", as_json)
    for (name, channels, layers, aux), count in BEFORE.items():
        assert params(space.build_network(name, channels, layers, 3, 10, auxiliary=aux)) == count, name


@pytest.mark.parametrize("name", sorted(SUPERNETS_BEFORE))
def test_supernets_round_trip_to_the_same_parameter_counts(name):
    space = reloaded(name, as_json=False)
    layers = 5 if name == "nb201" else 8
    assert params(space.build_supernet(mixed_op_factory(space.ops, space.pool_bn), 16, layers, 3, 10)) \
        == SUPERNETS_BEFORE[name]
    assert space.to_document() == SPACES[name].to_document()


def test_nb201_networks_round_trip_to_the_same_parameter_counts():
    space = reloaded("nb201", as_json=True)
    for name, count in NB201_BEFORE.items():
        assert params(space.build_network(name, 16, 5, 3, 10)) == count


@pytest.mark.parametrize("name", sorted(SPACES))
def test_round_tripped_spaces_derive_and_sample_the_same_genotypes(name):
    before, after = SPACES[name], reloaded(name, as_json=False)
    torch.manual_seed(3)
    probs = {ct: torch.rand(before.op_mask(ct).shape) for ct in before.cell_types}
    assert after.derive(probs) == before.derive(probs)
    a, b = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    for _ in range(5):
        path = before.sample_architecture(a)
        assert after.sample_architecture(b) == path
        assert after.genotype_of_path(path) == before.genotype_of_path(path)
    for published in before.published:
        assert after.resolve(published) == before.resolve(published)


def test_known_derivations_are_unchanged():
    """The DARTS rule and NB-201's argmax, pinned on hand-made weights (these held before the documents)."""
    darts = SPACES["darts"]
    probs = {ct: torch.full((14, 8), 0.01) for ct in darts.cell_types}
    for row, col in [(0, 4), (1, 3), (2, 5), (4, 6), (5, 7), (9, 1), (10, 2), (13, 4)]:
        probs["normal"][row, col] = 0.9
    probs["normal"][0, 0] = 5.0  # none never wins
    genotype = darts.derive(probs)
    assert genotype["normal"][:2] == [["sep_conv_3x3", 0], ["skip_connect", 1]]
    assert genotype["normal_concat"] == [2, 3, 4, 5]
    nb = SPACES["nb201"]
    weights = torch.zeros(6, 5)
    weights[:, 3] = 1.0
    weights[2, 0] = 2.0  # none may win on NB-201
    assert nb.derive({"cell": weights}) == "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def test_counts_of_the_built_ins():
    assert SPACES["nb201"].num_architectures() == 5 ** 6  # the benchmark's 15,625 cells
    # DARTS: per cell, nodes with 2..5 candidate inputs keep two, each with one of 7 ops: (1*3*6*10 * 7^8)^2
    assert SPACES["darts"].num_architectures() == (1 * 3 * 6 * 10 * 7 ** 8) ** 2
    assert SPACES["darts"].num_arch_params() == 2 * 14 * 8


# ---- problems, by place ----------------------------------------------------------------------------------------
def _darts_data() -> dict:
    return json.loads(json.dumps(SPACES["darts"].to_document()))


def _problems(data) -> dict:
    doc, problems = check_document(data)
    return problems


def test_a_valid_document_has_no_problems_and_registers_nothing():
    before = dict(SPACES)
    data = _darts_data()
    data["name"] = "mine"
    assert _problems(data) == {}
    space = load_space(data)
    assert space.name == "mine" and dict(SPACES) == before
    with pytest.raises(KeyError, match="unknown space 'mine'"):
        get_space("mine")


@pytest.mark.parametrize("change,place,words", [
    (lambda d: d["cells"]["normal"].update(edges=[{"from": 0, "to": 2}, {"from": 1, "to": 2}, {"from": 2, "to": 3},
                                                  {"from": 3, "to": 2}, {"from": 0, "to": 4}, {"from": 4, "to": 5},
                                                  {"from": 1, "to": 5}, {"from": 3, "to": 4}]),
     "cells.normal.edges", "cycle"),
    (lambda d: d["ops"].__setitem__(4, "sep_conv_3x4"), "ops[4]", "unknown op 'sep_conv_3x4' (did you mean"),
    (lambda d: d["ops"].__setitem__(4, {"family": "sep_conv", "kernel": 4}), "ops[4]", "odd"),
    (lambda d: d["cells"]["normal"].update(edges=[{"from": 0, "to": 2}, {"from": 1, "to": 2}, {"from": 2, "to": 3},
                                                  {"from": 0, "to": 3}, {"from": 4, "to": 5}, {"from": 3, "to": 5}]),
     "cells.normal.nodes", "node 4 is reached from no input"),
    (lambda d: d["cells"]["normal"].update(inputs=[0, 1], nodes=[2, 3], edges=[{"from": 2, "to": 3}],
                                           output={"concat": [3]}),
     "cells.normal.nodes", "reached from no input"),
    (lambda d: d["rule"].update(inputs=3), "rule.inputs", "node 2 of the normal cell has 2 incoming edges"),
    (lambda d: d["rule"].update(kind="one_op_per_edge", exclude=["none", "max_pool_3x3", "avg_pool_3x3",
                                                                 "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
                                                                 "dil_conv_3x3", "dil_conv_5x5"]),
     "rule", "cannot pick"),
    (lambda d: d["defaults"].update(layers=2), "defaults.layers", "at least 3 layers"),
    (lambda d: d["macro"].update(reduction_cell="shrink"), "macro.reduction_cell", "no cell type 'shrink'"),
    (lambda d: d["macro"].update(reductions_at=["3/2"]), "macro.reductions_at[0]", "strictly between 0 and 1"),
    (lambda d: d["cells"]["normal"].update(output={"concat": [2, 9]}), "cells.normal.output", "intermediate nodes"),
    (lambda d: d["cells"]["normal"].update(combine="max"), "cells.normal.combine", "sum"),
    (lambda d: d.update(colour="blue"), "colour", "unknown key"),
    (lambda d: d["published"]["darts_v2"]["normal"].__setitem__(0, ["sep_conv_3x3", 9]), "published.darts_v2",
     "cannot take input from node 9"),
])
def test_each_problem_is_named_by_its_place(change, place, words):
    data = _darts_data()
    change(data)
    problems = _problems(data)
    assert place in problems, problems
    assert words in problems[place]


def test_an_output_that_does_not_depend_on_the_input():
    data = json.loads(json.dumps(get_space(LADDER).to_document()))
    data["cells"]["rung"]["edges"] = [{"from": 0, "to": 1}, {"from": 2, "to": 3}, {"from": 3, "to": 4},
                                      {"from": 2, "to": 4}, {"from": 1, "to": 4}]
    data["published"] = {}
    problems = _problems(data)
    assert "reached from no input" in problems["cells.rung.nodes"]
    data["cells"]["rung"]["edges"] = [{"from": 0, "to": 1}, {"from": 1, "to": 2}, {"from": 2, "to": 3},
                                      {"from": 3, "to": 4}]
    data["cells"]["rung"]["inputs"] = [0]
    data["cells"]["rung"]["nodes"] = [1, 2, 3, 4]
    assert _problems(data) == {}


def test_text_that_is_not_yaml_names_its_line():
    with pytest.raises(DocumentError) as info:
        read_text("name: x\nops: [none\ncells: {}\n")
    assert any(place.startswith("line ") for place in info.value.problems)


# ---- where a space is taken --------------------------------------------------------------------------------------
def test_a_path_works_wherever_a_space_is_taken(tmp_path, capsys):
    assert get_space(LADDER).name == "ladder"
    cfg = validate_config({"space": FORK, "optimizer": "darts"})
    assert cfg.space == FORK
    with pytest.raises(ConfigError) as info:
        validate_config({"space": str(tmp_path / "missing.yaml")})
    assert "no space document at" in info.value.errors["space"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(LADDER).read_text().replace("stages: 2", "stages: 0"))
    with pytest.raises(ConfigError) as info:
        validate_config({"space": str(bad)})
    assert "macro.stages" in info.value.errors["space"]
    assert main(["describe", "--space", LADDER, "--genotype", "convs", "--json", "--channels", "8", "--layers", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["params"] > 0


def test_space_check_and_export_from_the_command_line(tmp_path, capsys):
    assert main(["space", "check", FORK, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["valid"] and summary["architecture_parameters"] == 9 * 4 + 9 * 3
    # per cell, each of 3 nodes keeps one input: plain 4 ops on 2, 3, 4 inputs; shrink 3 ops
    assert int(summary["architectures"]) == (4 * 2 * 4 * 3 * 4 * 4) * (3 * 2 * 3 * 3 * 3 * 4)
    assert [p["cell_type"] for p in summary["macro"]["positions"]] == ["plain", "shrink", "plain"]
    assert main(["space", "export", "nb201"]) == 0
    exported = capsys.readouterr().out
    (tmp_path / "nb.yaml").write_text(exported)
    assert main(["space", "check", str(tmp_path / "nb.yaml"), "--layers", "2"]) == 0
    assert "architectures: 15,625" in capsys.readouterr().out
    assert main(["space", "check", str(tmp_path / "nb.yaml"), "--image-size", "2"]) == 1
    assert "--image-size" in capsys.readouterr().err
    (tmp_path / "bad.yaml").write_text(exported.replace("nor_conv_1x1", "nor_conv_1x2"))
    assert main(["space", "check", str(tmp_path / "bad.yaml")]) == 1
    assert "ops[2]: unknown op 'nor_conv_1x2'" in capsys.readouterr().err
    assert main(["space", "check", str(tmp_path / "none.yaml")]) == 2
    assert main(["space", "export", "nope"]) == 2


def test_summaries_count_the_supernet_at_the_size_asked():
    space = get_space(LADDER)
    small, large = summarize(space, channels=4, layers=1), summarize(space, channels=8, layers=2)
    assert small["supernet_parameters"] < large["supernet_parameters"]
    built = space.build_supernet(mixed_op_factory(space.ops, space.pool_bn), 8, 2, 3, 10)
    assert large["supernet_parameters"] == params(built)


# ---- every method family on two spaces no built-in resembles ---------------------------------------------------------
TINY = {"dataset": "digits", "epochs": 1, "channels": 4, "batch_size": 16, "steps_per_epoch": 3, "device": "cpu",
        "seed": 0, "curvature_every": 0, "derive_samples": 2, "select_samples": 0}
METHODS = {
    "darts": {}, "pcdarts": {"warmup_epochs": 0, "pc_k": 2}, "drnas": {}, "gdas": {}, "proxyless": {},
    "spos": {}, "rsws": {}, "oneshot": {}, "enas": {"controller_train_steps": 2, "controller_num_aggregate": 2},
    "re": {"eval_steps": 2, "population_size": 2, "tournament_size": 2, "budget": 4},
    "rs": {"eval_steps": 2, "budget": 4}, "ls": {"eval_steps": 2, "budget": 4},
    "reinforce": {"eval_steps": 2, "budget": 4},
}


@pytest.mark.parametrize("space_file", [LADDER, FORK], ids=["ladder", "fork"])
@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_searches_a_user_space(method, space_file, tmp_path):
    result = run_search({**TINY, "space": space_file, "optimizer": method, **METHODS[method]}, tmp_path).result
    space = get_space(space_file)
    assert result["space"] == space_file
    genotype = space.parse_genotype(result["genotype"])
    for ct, rows in result["alphas"].items():
        assert ct in space.cell_types and len(rows) == len(space.edges(ct))
    net = space.build_network(genotype, 4, space.default_layers, 1, 10)
    assert net(torch.randn(2, 1, 8, 8)).shape == (2, 10)


@pytest.mark.parametrize("space_file", [LADDER, FORK], ids=["ladder", "fork"])
def test_curvature_early_stopping_selection_and_retraining_on_a_user_space(space_file, tmp_path):
    """RobustDARTS's curvature and DARTS-ES on it, the selection stage retraining sampled cells, then the stand-alone
    network of the result trained from scratch."""
    cfg = {**TINY, "space": space_file, "optimizer": "darts", "epochs": 4, "steps_per_epoch": 2, "curvature_every": 1,
           "curvature_samples": 16, "curvature_trace_samples": 0, "early_stop": "es", "early_stop_window": 1,
           "early_stop_threshold": 1e9, "select_samples": 3, "select_top_k": 2, "select_epochs": 1}
    run = run_search(cfg, tmp_path / "search")
    assert run.status == "stopped_early", run.result
    types = [e["type"] for e in read_events(tmp_path / "search" / "events.jsonl")]
    assert "curvature" in types and "early_stop" in types and "selection" in types
    space = get_space(space_file)
    space.parse_genotype(run.result["genotype"])
    trained = evaluate_genotype(space_file, run.result["genotype"],
                                {"dataset": "digits", "epochs": 1, "channels": 4, "layers": space.default_layers,
                                 "batch_size": 32, "steps_per_epoch": 2, "device": "cpu", "seed": 0})
    assert trained["status"] == "finished" and 0.0 <= trained["test_acc"] <= 1.0 and trained["params"] > 0


# ---- a hierarchical space: the macro level as a searched graph ----------------------------------------------------
FABRIC = str(Path(__file__).parents[2] / "nascore" / "spaces" / "examples" / "fabric.yaml")
ONE_SHOT = ["darts", "pcdarts", "drnas", "gdas", "proxyless", "spos", "rsws", "oneshot", "enas"]


def test_the_fabric_is_a_trellis_of_layers_by_scales():
    space = get_space(FABRIC)
    cell = space.cell_doc("fabric")
    assert len(cell.nodes) == 12 and set(cell.scales.values()) == {0, 1, 2}
    for src, dst in space.edges("fabric"):
        assert abs(cell.scales[dst] - cell.scales.get(src, 0)) <= 1  # edges move one scale at most
    net = space.build_supernet(mixed_op_factory(space.ops, space.pool_bn), 4, 1, 1, 10)
    probs = {"fabric": torch.full(space.op_mask("fabric").shape, 0.25)}
    assert net(torch.randn(2, 1, 8, 8), probs).shape == (2, 10)
    # the coarsest scale is a quarter of the input's side, with four times the channels
    features = {}
    net.graph.register_forward_hook(lambda m, args, out: features.setdefault("out", out))
    net(torch.randn(2, 1, 8, 8), probs)
    assert features["out"].shape == (2, 16, 2, 2)
    problems = check_document({**json.loads(json.dumps(space.to_document())), "defaults": {"channels": 8, "layers": 3}})[1]
    assert "fixes the depth" in problems["defaults.layers"]


@pytest.mark.parametrize("method", ONE_SHOT)
def test_every_one_shot_method_searches_the_fabric(method, tmp_path):
    settings = {"enas": {"controller_train_steps": 2, "controller_num_aggregate": 2},
                "pcdarts": {"warmup_epochs": 0, "pc_k": 2}}.get(method, {})
    result = run_search({**TINY, "space": FABRIC, "optimizer": method, "steps_per_epoch": 2, **settings},
                        tmp_path).result
    space = get_space(FABRIC)
    genotype = space.parse_genotype(result["genotype"])
    assert len(genotype["fabric"]) == 12 and genotype["fabric_concat"] == [12]  # each node keeps one input
    assert space.build_network(genotype, 4, 1, 1, 10)(torch.randn(2, 1, 8, 8)).shape == (2, 10)


HIERARCHICAL = str(Path(__file__).parents[2] / "nascore" / "spaces" / "examples" / "hierarchical.yaml")


def test_a_hierarchical_space_chooses_among_cells_with_the_same_relaxation():
    """The macro graph's edges choose among two searched cells and a skip; one softmax weight matrix per cell type,
    and the loss reaches every one of them (the cells' own weights through the macro edges that hold them)."""
    space = get_space(HIERARCHICAL)
    assert space.cell_types == ("macro", "conv_cell", "pool_cell")
    net = space.build_supernet(mixed_op_factory(space.ops, space.pool_bn), 4, 1, 1, 10)
    alphas = {ct: torch.zeros(space.op_mask(ct).shape, requires_grad=True) for ct in space.cell_types}
    weights = {ct: torch.softmax(a.masked_fill(~space.op_mask(ct), float("-inf")), -1) for ct, a in alphas.items()}
    net(torch.randn(4, 1, 8, 8), weights).logsumexp(1).mean().backward()
    for ct, a in alphas.items():
        assert a.grad is not None and a.grad[space.op_mask(ct)].abs().sum() > 0, ct
    # a stand-alone network: the macro edges that keep a cell run that cell's chosen ops
    genotype = space.derive({ct: torch.rand(space.op_mask(ct).shape) for ct in space.cell_types})
    built = space.build_network(genotype, 4, 1, 1, 10)
    kept_cells = {op for op, _ in genotype["macro"] if op.startswith("cell:")}
    cell_ops = built.cell_ops
    assert {"cell:" + op.cell_type for op in cell_ops} == kept_cells
    assert built(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_cells_as_ops_are_checked_where_they_are_written():
    data = json.loads(json.dumps(get_space(HIERARCHICAL).to_document()))
    data["cells"]["conv_cell"]["ops"] = ["nor_conv_3x3", "cell:pool_cell"]
    problems = _problems(data)
    assert "a cell is an op only on the edges of a macro graph" in problems["cells.conv_cell.ops"]
    data = json.loads(json.dumps(get_space(HIERARCHICAL).to_document()))
    data["cells"]["macro"]["ops"] = ["cell:conv_cell", "cell:nothing"]
    assert "names no cell type" in _problems(data)["cells.macro.ops"]


@pytest.mark.parametrize("method", ONE_SHOT)
def test_every_one_shot_method_searches_the_hierarchical_space(method, tmp_path):
    settings = {"enas": {"controller_train_steps": 2, "controller_num_aggregate": 2},
                "pcdarts": {"warmup_epochs": 0, "pc_k": 2}}.get(method, {})
    result = run_search({**TINY, "space": HIERARCHICAL, "optimizer": method, "steps_per_epoch": 2, **settings},
                        tmp_path).result
    space = get_space(HIERARCHICAL)
    genotype = space.parse_genotype(result["genotype"])
    assert set(result["alphas"]) == {"macro", "conv_cell", "pool_cell"}
    assert space.build_network(genotype, 4, 1, 1, 10)(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_the_readme_example_document_is_a_valid_space():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    start = readme.index("format: nasboard-space/1\nname: ladder")
    doc, problems = check_document(read_text(readme[start:readme.index("```", start)]))
    assert problems == {} and doc.name == "ladder"
