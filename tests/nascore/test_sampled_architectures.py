"""Methods that sample one architecture at a time sample architectures of the space: on DARTS cells two distinct
inputs per node with an op other than none on each (RS-WS's sample_arch, liamcli/randomNAS_release,
benchmarks/cnn/darts/darts_wrapper_discrete.py lines 258-273; ENAS's micro controller, melodyguan/enas,
src/cifar10/micro_controller.py lines 150-189), one op per edge on NAS-Bench-201; and the path the supernet scores,
the genotype reported and the network retrained from it are the same cell."""
from collections import Counter

import pytest
import torch

from nascore.networks.sampled import SampledRows
from nascore.optimizers.components.controller import Controller
from nascore.optimizers.components.evolution import RegularizedEvolution
from nascore.optimizers.components.samplers import LocalSearch, PolicySampler
from nascore.optimizers.components.sampling import generator_for
from nascore.runner import SearchRun, run_search
from nascore.selection import distinct_candidates
from nascore.spaces import get_space
from nascore.spaces.architectures import ABSENT

SAMPLING = ["rsws", "spos", "oneshot", "enas", "rs", "re", "reinforce", "ls"]


def _kept(space, cols):
    """{(cell type, source, target, op)} of a path, `none` edges left out (they add nothing, in either network)."""
    out = set()
    for ct, row_cols in cols.items():
        for (src, dst), col in zip(space.edges(ct), row_cols):
            if col != ABSENT and space.ops[col] != "none":
                out.add((ct, src, dst, space.ops[col]))
    return out


def _network_edges(space, genotype):
    """{(cell type, source, target, op)} of the stand-alone network an evaluator retrains from ``genotype``."""
    net = space.build_network(genotype, 4, 3 if space.name != "nb201" else 1, 1, 10)
    dags = [(ct, cell.dag) for ct, cell in zip(net.cell_types, net.cells)] if hasattr(net, "cell_types") else \
        [("cell", m) for m in net.modules() if type(m).__name__ == "CompiledCell"]
    out = set()
    for ct, dag in dags:
        for node, incoming in dag.plan:
            for src, slot in incoming:
                if dag.edges[slot].op_name != "none":
                    out.add((ct, src, node, dag.edges[slot].op_name))
    return out


def _valid_darts_cell(space, cols):
    assert space.architecture_rule().problem(cols) is None, cols
    for ct, row_cols in cols.items():
        for node in range(2, 6):
            kept = [src for (src, dst), c in zip(space.edges(ct), row_cols) if dst == node and c != ABSENT]
            assert len(kept) == 2 and len(set(kept)) == 2
            assert all(space.ops[c] != "none" for (s, d), c in zip(space.edges(ct), row_cols)
                       if d == node and c != ABSENT)


def test_darts_cells_are_drawn_with_two_inputs_per_node_uniformly():
    space = get_space("darts")
    gen = generator_for(0, "test")
    pairs = Counter()
    ops = Counter()
    for _ in range(600):
        cols = space.sample_architecture(gen)
        _valid_darts_cell(space, cols)
        node5 = tuple(src for (src, dst), c in zip(space.edges("normal"), cols["normal"]) if dst == 5 and c != ABSENT)
        pairs[node5] += 1
        ops.update(space.ops[c] for c in cols["normal"] if c != ABSENT)
    assert len(pairs) == 10  # every pair of node 5's five inputs ...
    assert pairs[(0, 1)] < 600 * 0.2  # ... about a tenth each, not inputs 0 and 1 every time
    assert set(ops) == set(space.ops) - {"none"} and min(ops.values()) > 600 * 8 / 7 * 0.7


def test_a_path_and_its_genotype_are_the_same_cell_both_ways():
    space = get_space("darts")
    gen = generator_for(1, "test")
    for _ in range(20):
        cols = space.sample_architecture(gen)
        genotype = space.genotype_of_path(cols)
        assert space.path_of(genotype) == cols
        assert _network_edges(space, genotype) == _kept(space, cols)
    nb = get_space("nb201")
    cols = nb.sample_architecture(gen)
    kept = [c if nb.ops[c] != "none" else ABSENT for c in cols["cell"]]  # none edges are left out of the network
    assert nb.path_of(nb.genotype_of_path(cols)) == {"cell": kept}


def test_mutations_and_neighbours_stay_within_darts_cells():
    space = get_space("darts")
    rule = space.architecture_rule()
    gen = generator_for(2, "test")
    parent = rule.sample(gen)
    moved_input = changed_op = False
    for _ in range(100):
        child = RegularizedEvolution(rule, gen).mutate(parent)
        _valid_darts_cell(space, child)
        diff = [(ct, r) for ct in child for r, (a, b) in enumerate(zip(parent[ct], child[ct])) if a != b]
        assert diff and len({ct for ct, _ in diff}) == 1 and len(diff) <= 2  # one op, or one input moved
        moved_input |= len(diff) == 2
        changed_op |= len(diff) == 1
    assert moved_input and changed_op
    neighbours = LocalSearch(rule, gen).neighbours(parent)
    for child in neighbours:
        _valid_darts_cell(space, child)
    assert len({str(c) for c in neighbours}) == len(neighbours) > 2 * 8 * 6


def test_the_controller_and_the_policy_draw_darts_cells_and_score_them_back():
    space = get_space("darts")
    rule = space.architecture_rule()
    torch.manual_seed(0)
    controller = Controller(rule)
    gen = generator_for(3, "test")
    for _ in range(10):
        arch, log_prob, _, probs = controller(gen)
        _valid_darts_cell(space, arch)
        same, again, _, _ = controller(actions=arch)  # scored with each node's inputs in source order
        assert same == arch and torch.isfinite(again) and again <= 0
        assert all(torch.allclose(p.sum(1), torch.ones(14)) for p in probs.values())
    policy = PolicySampler(rule, gen, lr=0.2)
    inputs_of_node_2 = Counter()
    for _ in range(150):  # reward: node 3 takes node 2 as an input
        arch = policy.ask()
        _valid_darts_cell(space, arch)
        policy.tell(arch, float(arch["normal"][4] != ABSENT))
    for _ in range(50):
        inputs_of_node_2[policy.ask()["normal"][4] != ABSENT] += 1
    assert inputs_of_node_2[True] > 40  # a third of the draws before learning; the policy learned to keep it


TINY = {"dataset": "digits", "epochs": 2, "channels": 4, "batch_size": 32, "steps_per_epoch": 3, "device": "cpu",
        "seed": 0, "curvature_every": 0, "derive_samples": 3, "select_samples": 0, "eval_steps": 2,
        "population_size": 2, "tournament_size": 1}


@pytest.mark.parametrize("space", ["darts", "nb201"])
@pytest.mark.parametrize("name", SAMPLING)
def test_the_scored_path_the_reported_genotype_and_the_retrained_network_agree(name, space, tmp_path, monkeypatch):
    sp = get_space(space)
    drawn = []
    original = type(sp).sample_architecture

    def recording(self, generator):
        cols = original(self, generator)
        drawn.append(cols)
        return cols

    monkeypatch.setattr(type(sp), "sample_architecture", recording)
    run = SearchRun({**TINY, "space": space, "optimizer": name, "layers": 3 if space == "darts" else 1}, tmp_path)
    outcome = run.run()
    opt = run.optimizer
    weights = opt.forward_weights()  # what the supernet was validated on
    assert all(isinstance(w, SampledRows) for w in weights.values()) or name == "oneshot" and not drawn
    scored = {ct: w.columns for ct, w in weights.items()}
    genotype = outcome.result["genotype"]
    assert sp.path_of(genotype) == {ct: [c if c == ABSENT or sp.ops[c] != "none" else ABSENT for c in cols]
                                    for ct, cols in scored.items()}
    assert _network_edges(sp, genotype) == _kept(sp, scored)
    if space == "darts":
        _valid_darts_cell(sp, scored)
        for cols in drawn:  # every path trained (uniform relaxation) is a DARTS cell too
            _valid_darts_cell(sp, cols)
    if name == "rsws":
        assert len(drawn) >= TINY["epochs"] * TINY["steps_per_epoch"]
    if name in ("rsws", "spos", "oneshot", "enas"):  # the selection stage starts from the same cell
        torch.manual_seed(0)
        first = distinct_candidates(sp, opt, genotype, opt.distribution(), 3, generator_for(0, "selection"))
        assert first[0] == genotype
        for candidate in first[1:]:
            path = sp.path_of(candidate)
            if space == "darts":
                _valid_darts_cell(sp, path)


# ---- single-path supernets learn -----------------------------------------------------------------------------------

#: the DARTS search's settings (weights' lr 0.025, cosine), a small network, 160 steps on digits
LEARN = {"dataset": "digits", "epochs": 8, "channels": 8, "batch_size": 32, "steps_per_epoch": 20, "device": "cpu",
         "seed": 0, "curvature_every": 0, "derive_samples": 8, "select_samples": 0}


@pytest.mark.parametrize("space", ["darts", "nb201"])
@pytest.mark.parametrize("name", ["gdas", "rsws", "spos", "enas"])
def test_single_path_supernets_learn_on_both_space_families(name, space, tmp_path):
    """Validated on one path after SPOS's BN recalibration, the supernet is clearly above chance (0.1); before,
    GDAS validated its most likely path on running statistics averaged over other paths, at chance."""
    # the controller's own schedule (30 x 10 scored samples an epoch) is not what this checks: 3 x 5 keeps it short
    controller = {"controller_train_steps": 3, "controller_num_aggregate": 5} if name == "enas" else {}
    result = run_search({**LEARN, "space": space, "optimizer": name, "layers": 3 if space == "darts" else 1,
                         **controller}, tmp_path).result
    # 2.5 times chance: SPOS on DARTS ends at 0.29 to 0.31 depending on the machine's convolution kernels (AVX2 or
    # AVX-512), on the way up (its best epoch is above 0.4); at chance it would be 0.1
    assert result["metrics"]["val_acc"] > 0.25, result["metrics"]


@pytest.mark.parametrize("name", ["gdas", "rsws", "enas"])
def test_the_validated_path_runs_on_batch_statistics_of_its_own(name, tmp_path):
    """The running statistics a single path is validated on are those of that path on the latest training batch
    (SPOS's recalibration), not averages over the other paths trained."""
    import copy

    from nascore.optimizers.components.ranking import recalibrate_batch_norm

    run = SearchRun({**TINY, "space": "darts", "optimizer": name, "layers": 3, "epochs": 1}, tmp_path)
    run.run()
    opt = run.optimizer
    weights = opt.forward_weights()
    after = {k: v.clone() for k, v in run.model.state_dict().items() if "running" in k}
    expected = copy.deepcopy(run.model)
    recalibrate_batch_norm(expected, weights, [opt.calib_batch])
    for key, value in expected.state_dict().items():
        if "running" in key:
            assert torch.allclose(after[key], value), key
