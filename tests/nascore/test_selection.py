"""Choosing the final architecture: rank correlations, running a genotype inside the supernet, the samplers, the
selection stage on digits (choice, determinism, cancel and resume, never the test split), its settings."""
import random

import pytest
import torch

from nascore.cli import build_parser
from nascore.config import (
    DEFAULT_SELECT_SAMPLES,
    ConfigError,
    effective_select_samples,
    validate_config,
)
from nascore.events import read_events
from nascore.optimizers import OPTIMIZERS, get_optimizer
from nascore.optimizers.components.sampling import generator_for
from nascore.rankcorr import kendall_tau, spearman_rho
from nascore.runner import run_search
from nascore.selection import (
    ABSENT,
    SAMPLERS,
    _categorical,
    candidate_weights,
    describe_selection,
    genotype_of,
    genotype_rows,
)
from nascore.settings_cli import given_settings
from nascore.spaces import get_space
from tests.nascore.support import stop_after

# ---- rank correlations -----------------------------------------------------------------------------------------


def test_rank_correlations_by_hand_with_ties():
    # pairs of (1,2,2,3) and (1,3,2,3): 4 concordant, 0 discordant, one tie in each scoring -> 4 / sqrt(5 * 5)
    assert kendall_tau([1, 2, 2, 3], [1, 3, 2, 3]) == pytest.approx(0.8)
    # average ranks (1, 2.5, 2.5, 4) and (1, 3.5, 2, 3.5): covariance 3.75 over variances 4.5 and 4.5
    assert spearman_rho([1, 2, 2, 3], [1, 3, 2, 3]) == pytest.approx(5 / 6)
    assert kendall_tau([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman_rho([0.1, 0.5, 0.9], [0.2, 0.3, 0.8]) == pytest.approx(1.0)


def test_rank_correlations_are_undefined_without_two_distinct_values():
    assert kendall_tau([0.5, 0.5, 0.5], [0.1, 0.2, 0.3]) is None
    assert spearman_rho([0.1, 0.2, 0.3], [0.7, 0.7, 0.7]) is None
    assert kendall_tau([0.3], [0.4]) is None and spearman_rho([0.3], [0.4]) is None
    with pytest.raises(ValueError, match="same items"):
        kendall_tau([1, 2], [1, 2, 3])


def test_rank_correlations_keep_the_none_rule_on_random_tied_data():
    """scipy's NaN (a constant scoring) is None, every other value is a float in [-1, 1]."""
    rng = random.Random(0)
    for _ in range(25):
        n = rng.randint(2, 12)
        x = [rng.randint(0, 2) for _ in range(n)]
        y = [rng.randint(0, 2) for _ in range(n)]
        constant = len(set(x)) == 1 or len(set(y)) == 1
        for value in (kendall_tau(x, y), spearman_rho(x, y)):
            assert (value is None) == constant
            assert value is None or (isinstance(value, float) and -1.0 <= value <= 1.0)


# ---- a genotype inside the supernet ------------------------------------------------------------------------------


def _supernet(name, space="s3"):
    torch.manual_seed(0)
    config = validate_config({"space": space, "optimizer": name, "channels": 4, "layers": 3, "device": "cpu"})
    sp = get_space(space)
    opt = get_optimizer(name)(sp, config)
    model = sp.build_supernet(opt.edge_factory(), 4, 3, 1, 10)
    opt.setup(model, torch.device("cpu"))
    return sp, opt, model


def test_genotype_rows_keep_exactly_the_genotypes_edges():
    darts = get_space("darts")
    rows = genotype_rows(darts, "darts_v2")
    edges = darts.edges("normal")
    kept = {edges[r]: darts.ops[c] for r, c in enumerate(rows["normal"]) if c != ABSENT}
    assert len(kept) == 8 and kept[(0, 2)] == "sep_conv_3x3" and kept[(2, 5)] == "dil_conv_3x3"
    twice = {"normal": [["sep_conv_3x3", 0], ["sep_conv_3x3", 0]] * 4, "reduce": [["max_pool_3x3", 0], ["skip_connect", 1]] * 4}
    with pytest.raises(ValueError, match="twice"):
        genotype_rows(darts, twice)
    with pytest.raises(ValueError, match="not a candidate"):
        genotype_rows(get_space("s3"), {"normal": [["dil_conv_3x3", 0], ["skip_connect", 1]] * 4,
                                        "reduce": [["skip_connect", 0], ["skip_connect", 1]] * 4})
    nb = genotype_rows(get_space("nb201"), "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|")
    assert [c == ABSENT for c in nb["cell"]] == [False, True, False, True, True, False]


@pytest.mark.parametrize("name", ["rsws", "darts", "pcdarts"])
def test_left_out_edges_contribute_nothing_and_kept_ones_do(name):
    """Whatever the method's edges (single path, mixed, partial channels), the supernet runs exactly the genotype."""
    space, opt, model = _supernet(name)
    probs = {ct: torch.rand(14, 3) + torch.tensor([0.0, 0.0, 5.0]) for ct in space.cell_types}  # sep_conv kept
    genotype = space.derive(probs)
    rows = genotype_rows(space, genotype)
    weights = candidate_weights(space, model, genotype, torch.device("cpu"))
    x = torch.randn(6, 1, 8, 8)
    model.eval()
    with torch.no_grad():
        before = model(x, weights)
        for cell, ct in zip(model.cells, model.cell_types):
            for slot, row in enumerate(cell.dag.edge_rows):
                if rows[ct][row] == ABSENT:
                    for p in cell.dag.edges[slot].parameters():
                        p.add_(torch.randn_like(p))
        assert torch.equal(model(x, weights), before)
        cell = model.cells[0]
        slot = next(s for s, r in enumerate(cell.dag.edge_rows) if rows["normal"][r] != ABSENT)
        for p in cell.dag.edges[slot].parameters():
            p.add_(torch.randn_like(p))
        assert not torch.allclose(model(x, weights), before)


# ---- drawing candidates --------------------------------------------------------------------------------------------


def test_every_method_has_a_sampler_and_draws_only_candidates():
    space = get_space("s1")  # two candidate ops per edge, different on every edge
    masks = {ct: space.op_mask(ct) for ct in space.cell_types}
    for name in OPTIMIZERS:
        _, opt, _ = _supernet(name, "s1")
        sampler = SAMPLERS.get(opt.distribution_kind, _categorical)
        probs = opt.distribution()
        for _ in range(5):
            cols = sampler(opt, probs, masks, generator_for(0, name))
            for ct, mask in masks.items():  # single-path and controller draws are S1 cells: edges left out
                assert all(c == ABSENT or mask[r, c] for r, c in enumerate(cols[ct])), name
            if opt.distribution_kind == "frequency" or getattr(opt, "controller", None) is not None:
                assert space.architecture_rule().problem(cols) is None, name  # two inputs per node


def test_categorical_draws_follow_the_distribution_and_kept_edges_vary():
    space = get_space("s3")
    masks = {ct: space.op_mask(ct) for ct in space.cell_types}
    sure = {ct: torch.tensor([[0.0, 0.0, 1.0]] * 14) for ct in space.cell_types}
    gen = torch.Generator().manual_seed(0)
    cols = _categorical(None, sure, masks, gen)
    assert all(c == 2 for ct in cols for c in cols[ct])
    inputs_of_node_5 = set()
    for _ in range(60):
        genotype = genotype_of(space, cols, gen)
        assert all(op == "sep_conv_3x3" for op, _ in genotype["normal"])
        inputs_of_node_5.update(src for _, src in genotype["normal"][6:8])
    assert inputs_of_node_5 == {0, 1, 2, 3, 4}  # not always the first two edges


# ---- the stage on digits ------------------------------------------------------------------------------------------

SEL = {"space": "s3", "dataset": "digits", "epochs": 1, "channels": 4, "layers": 3, "batch_size": 64,
       "steps_per_epoch": 4, "device": "cpu", "seed": 3, "curvature_every": 0, "derive_samples": 4, "w_lr": 0.1,
       "train_portion": 0.75, "select_samples": 5, "select_top_k": 3, "select_epochs": 1}
#: stop-check calls: one per search step (4), then one per validation batch (360 examples: 6) of each ranked
#: candidate (5), then one per stand-alone step (4) of each retrained one
RANK_CALLS, RETRAIN_CALLS = 6, 4


@pytest.fixture(autouse=True)
def no_test_split(monkeypatch):
    """The selection stage reads the search's two halves of the training set only."""
    import nascore.data

    def refuse(*args, **kwargs):
        raise AssertionError("the test split was read")

    monkeypatch.setattr(nascore.data, "test_loader", refuse)


_RUNS = {}


def _full_run(name, tmp_path_factory):
    """One uninterrupted run per method, shared by the tests that read it."""
    if name not in _RUNS:
        out = tmp_path_factory.mktemp(f"full-{name}")
        _RUNS[name] = (run_search({**SEL, "optimizer": name}, out), out)
    return _RUNS[name]


def test_the_stage_retrains_the_top_k_and_keeps_the_best_stand_alone(tmp_path_factory):
    outcome, out = _full_run("rsws", tmp_path_factory)
    result = outcome.result
    block = result["selection"]
    assert outcome.status == "finished" and block["status"] == "finished"
    cands = block["candidates"]
    assert [c["index"] for c in cands] == list(range(5)) and block["sampled"] == 5
    assert cands[0]["source"] == "derived" and all(c["source"] == "sampled" for c in cands[1:])
    assert len({str(c["genotype"]) for c in cands}) == 5
    ranked = sorted(cands, key=lambda c: c["oneshot_rank"])
    assert [(-c["oneshot_val_acc"], c["oneshot_val_loss"]) for c in ranked] == sorted(
        (-c["oneshot_val_acc"], c["oneshot_val_loss"]) for c in cands)
    retrained = [c for c in cands if c["retrained"]]
    assert len(retrained) == 3 and {c["oneshot_rank"] for c in retrained} == {1, 2, 3}
    assert all(c["standalone_val_acc"] is None for c in cands if not c["retrained"])
    best = max(retrained, key=lambda c: (c["standalone_val_acc"], -c["standalone_val_loss"], -c["oneshot_rank"]))
    assert block["chosen"] == best["index"] and block["genotype"] == best["genotype"] == result["genotype"]
    assert result["search_genotype"] == cands[0]["genotype"] == block["search_genotype"]
    x = [c["oneshot_val_acc"] for c in sorted(retrained, key=lambda c: c["oneshot_rank"])]
    y = [c["standalone_val_acc"] for c in sorted(retrained, key=lambda c: c["oneshot_rank"])]
    assert block["kendall_tau"] == kendall_tau(x, y) and block["spearman"] == spearman_rho(x, y)
    assert best["standalone_val_acc"] > 0.1  # above chance after 4 steps
    assert "Kendall tau" in describe_selection(block)
    events = read_events(out / "events.jsonl")
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    phases = [(e["phase"], e["done"], e["total"]) for e in events if e["type"] == "selection"]
    assert phases == ([("start", 0, 8)] + [("rank", i, 8) for i in range(1, 6)]
                      + [("retrain", i, 8) for i in range(6, 9)] + [("done", 8, 8)])
    done = next(e for e in events if e["type"] == "selection" and e["phase"] == "done")
    assert done["chosen"] == best["index"] and done["kendall_tau"] == block["kendall_tau"]
    assert events[-1]["type"] == "finished" and events[-1]["result"]["genotype"] == best["genotype"]


@pytest.mark.parametrize("name,cancel_after,phase", [
    ("rsws", 2 * RANK_CALLS + 3, "rank"),  # while ranking the third candidate
    ("enas", 5 * RANK_CALLS + RETRAIN_CALLS + 2, "retrain"),  # while retraining the second
    ("drnas", RANK_CALLS + 1, "rank"),
])
def test_the_stage_is_deterministic_and_a_cancelled_one_resumes_to_the_same_end(name, cancel_after, phase, tmp_path,
                                                                                tmp_path_factory):
    full, _ = _full_run(name, tmp_path_factory)
    stop_during_selection = stop_after(SEL["steps_per_epoch"] + cancel_after)
    part = run_search({**SEL, "optimizer": name}, tmp_path, stop_check=stop_during_selection)
    assert part.status == "cancelled" and part.result["epochs_completed"] == SEL["epochs"]
    assert part.result["selection"]["status"] == "cancelled"
    assert part.result["genotype"] == part.result["selection"]["search_genotype"]  # nothing chosen yet
    events = read_events(tmp_path / "events.jsonl")
    assert events[-2]["type"] == "log" and "while choosing the final architecture" in events[-2]["message"]
    assert [e["phase"] for e in events if e["type"] == "selection"][-1] == phase
    resumed = run_search({**SEL, "optimizer": name}, tmp_path)
    assert resumed.status == "finished"
    strip = lambda block: {k: v for k, v in block.items() if k != "seconds"}  # noqa: E731
    assert strip(resumed.result["selection"]) == strip(full.result["selection"])
    assert resumed.result["genotype"] == full.result["genotype"]
    events = read_events(tmp_path / "events.jsonl")
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert sum(e["type"] == "selection" and e["phase"] == "done" for e in events) == 1


# ---- settings -------------------------------------------------------------------------------------------------------


def test_selection_is_on_by_default_only_for_the_sampling_methods():
    on = {name for name in OPTIMIZERS if effective_select_samples({"optimizer": name})}
    assert on == {"oneshot", "rsws", "spos", "enas"}
    assert effective_select_samples(validate_config({"optimizer": "spos"})) == DEFAULT_SELECT_SAMPLES
    assert effective_select_samples({"optimizer": "spos", "select_samples": 0}) == 0
    assert effective_select_samples({"optimizer": "darts", "select_samples": 6}) == 6
    validate_config({"optimizer": "darts", "select_top_k": 50})  # off: K is not checked against M
    validate_config({"optimizer": "gdas", "select_samples": 8, "select_top_k": 8, "select_epochs": 3})


@pytest.mark.parametrize("settings,field,words", [
    ({"select_samples": -1}, "select_samples", "non-negative integer"),
    ({"select_samples": 2.5}, "select_samples", "non-negative integer"),
    ({"select_top_k": 1}, "select_top_k", "at least 2"),
    ({"select_epochs": 0}, "select_epochs", "positive integer"),
    ({"optimizer": "darts", "select_samples": 3, "select_top_k": 4}, "select_top_k", "must not exceed select_samples (3)"),
    ({"optimizer": "oneshot", "select_top_k": 25}, "select_top_k", "the 20 architectures oneshot samples by default"),
])
def test_bad_selection_settings_are_rejected_with_a_reason(settings, field, words):
    with pytest.raises(ConfigError) as info:
        validate_config(settings)
    assert field in info.value.errors and words in info.value.errors[field], info.value.errors


def test_selection_flags_reach_the_config():
    args = build_parser().parse_args(["search", "--select-samples", "6", "--select-top-k", "3", "--select-epochs", "2"])
    got = given_settings(args, args.setting_names)
    assert got == {"select_samples": 6, "select_top_k": 3, "select_epochs": 2}
    cfg = validate_config({**got, "optimizer": "darts"})
    assert (cfg.select_samples, cfg.select_top_k, cfg.select_epochs) == (6, 3, 2)


def test_after_an_early_stop_the_stage_starts_from_the_returned_epoch(tmp_path):
    """DARTS-ES returns an earlier epoch's architecture: that is the search's own candidate, drawn from that
    epoch's distribution."""
    from nascore.runner import SearchRun
    from nascore.stages.selection import SelectionStage

    run = SearchRun({**SEL, "optimizer": "darts", "select_samples": 3, "select_top_k": 2}, tmp_path)
    run.emit_architecture()  # epoch 0's architecture and distribution, kept in the archive
    kept = run.history.archive[0]
    with torch.no_grad():
        for alpha in run.optimizer.alphas.values():  # the distribution moves on after epoch 0
            alpha[:, 2] += 10.0
    assert run.optimizer.derive() != kept.genotype
    run.history.early_stop = {"returned_epoch": 0}
    stage = next(s for s in run.stages if isinstance(s, SelectionStage))
    assert stage.after_search(run)
    block = stage.outcome.block
    assert block["search_genotype"] == kept.genotype == block["candidates"][0]["genotype"]
    sampled_ops = {op for c in block["candidates"][1:] for ct in ("normal", "reduce") for op, _ in c["genotype"][ct]}
    assert sampled_ops != {"sep_conv_3x3"}  # drawn from epoch 0's near-uniform distribution, not today's
    result = {"genotype": kept.genotype, "collapse": {}}
    stage.add_to_result(run, result)
    assert result["search_genotype"] == kept.genotype and result["genotype"] == block["genotype"]
