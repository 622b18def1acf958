"""Search spaces as graphs: sizes, op sets, genotype reading and derivation."""
import networkx as nx
import pytest
import torch

from nascore.networks.edges import mixed_op_factory
from nascore.spaces import SPACES, GenotypeError, get_space
import yaml

from nascore.spaces import BUILTIN_DIR
from nascore.spaces.darts import DARTS_OPS
from nascore.spaces.nb201 import PUBLISHED, format_arch, parse_arch


def test_registry_has_the_issue_spaces():
    assert set(SPACES) == {"darts", "nb201", "s1", "s2", "s3", "s4"}
    with pytest.raises(KeyError, match="unknown space 'nope'"):
        get_space("nope")


@pytest.mark.parametrize("cell_type", ["normal", "reduce"])
def test_darts_cell_graph(cell_type):
    g = get_space("darts").cell_graph(cell_type)
    assert isinstance(g, nx.MultiDiGraph) and nx.is_directed_acyclic_graph(g)
    assert g.graph["inputs"] == [0, 1] and g.graph["output"] == [2, 3, 4, 5]
    assert g.number_of_edges() == 14
    assert sorted(d["index"] for _, _, d in g.edges(data=True)) == list(range(14))
    for node in range(2, 6):
        assert sorted(src for src, _ in g.in_edges(node)) == list(range(node))
    assert all(d["ops"] == list(DARTS_OPS) for _, _, d in g.edges(data=True))
    assert len(DARTS_OPS) == 8


def test_robust_spaces_op_sets():
    assert get_space("s2").ops == ("skip_connect", "sep_conv_3x3")
    assert get_space("s3").ops == ("none", "skip_connect", "sep_conv_3x3")
    assert get_space("s4").ops == ("noise", "sep_conv_3x3")
    s1 = get_space("s1")
    for ct in ("normal", "reduce"):
        mask = s1.op_mask(ct)
        assert mask.shape[0] == 14 and (mask.sum(1) == 2).all()
        edge_ops = yaml.safe_load((BUILTIN_DIR / "s1.yaml").read_text())["cells"][ct]["edge_ops"]
        assert len(edge_ops) == 14
        for row, ops in enumerate(edge_ops):
            assert {s1.ops[c] for c in mask[row].nonzero().flatten().tolist()} == set(ops)
    assert s1.num_arch_params() == 56
    assert get_space("darts").num_arch_params() == 224


def test_nb201_cell_graph_and_strings():
    space = get_space("nb201")
    g = space.cell_graph("cell")
    assert g.number_of_edges() == 6 and g.graph["output"] == 3
    assert space.ops == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    s = PUBLISHED["nb201_best"]
    assert format_arch(parse_arch(s)) == s
    for bad, fragment in [("|nor_conv_3x3~0|+|nor_conv_3x3~0|", "3 groups"),
                          ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv'"),
                          ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "op~0"),
                          ("|none~0|+|none~0|+|none~0|none~1|none~2|", "needs 2 incoming")]:
        with pytest.raises(GenotypeError, match=fragment):
            space.parse_genotype(bad)


def test_darts_genotype_validation_messages():
    space = get_space("darts")
    with pytest.raises(GenotypeError, match="published names"):
        space.resolve("darts_v9")
    bad = dict(space.published["darts_v2"])
    bad["normal"] = [["sep_conv_3x3", 0], ["sep_conv_3x3", 5]] + bad["normal"][2:]
    with pytest.raises(GenotypeError, match="cannot take input from node 5"):
        space.parse_genotype(bad)
    bad["normal"] = [["warp_drive", 0]] + space.published["darts_v2"]["normal"][1:]
    with pytest.raises(GenotypeError, match="unknown op 'warp_drive'"):
        space.parse_genotype(bad)


def _one_hot(space, picks):
    """probabilities with weight 0.9 on the op picked for each (cell, row), the rest spread thinly."""
    probs = {}
    for ct in space.cell_types:
        mask = space.op_mask(ct).float()
        p = mask * 0.01
        for row, col, w in picks.get(ct, []):
            p[row, col] = w
        probs[ct] = p
    return probs


def test_darts_derivation_rule():
    space = get_space("darts")
    none, skip, sep3 = (DARTS_OPS.index(n) for n in ("none", "skip_connect", "sep_conv_3x3"))
    # node 2: edges 0 (0->2), 1 (1->2). Node 3: rows 2,3,4 (from 0,1,2). A huge `none` weight on row 4
    # must not count: strength is the largest non-none weight.
    picks = {"normal": [(0, sep3, 0.5), (1, skip, 0.3), (2, skip, 0.2), (3, sep3, 0.6), (4, none, 0.99), (4, sep3, 0.1)]}
    g = space.derive(_one_hot(space, picks))
    assert g["normal"][0:2] == [["sep_conv_3x3", 0], ["skip_connect", 1]]
    assert g["normal"][2:4] == [["sep_conv_3x3", 1], ["skip_connect", 0]]
    assert g["normal_concat"] == [2, 3, 4, 5] and len(g["reduce"]) == 8
    assert all(op != "none" for op, _ in g["normal"] + g["reduce"])
    space.parse_genotype(g)  # a derived genotype is a valid genotype


def test_nb201_derivation_is_argmax_per_edge():
    space = get_space("nb201")
    w = torch.full((6, 5), 0.1)
    cols = [3, 1, 0, 2, 4, 3]
    for row, col in enumerate(cols):
        w[row, col] = 0.6
    assert space.derive({"cell": w}) == format_arch([space.ops[c] for c in cols])


@pytest.mark.parametrize("name", sorted(SPACES))
def test_supernet_forward_and_param_shapes(name):
    space = get_space(name)
    net = space.build_supernet(mixed_op_factory(space.ops, space.pool_bn), 4, 3 if name != "nb201" else 1, 1, 10)
    weights = {ct: torch.softmax(torch.randn(space.op_mask(ct).shape).masked_fill(~space.op_mask(ct), -1e9), -1)
               for ct in space.cell_types}
    out = net(torch.randn(2, 1, 8, 8), weights)
    assert out.shape == (2, 10)


def test_mixed_op_skips_none_and_matches_the_weighted_sum():
    from nascore.bench import NaiveMixedOp
    from nascore.networks.edges import MixedOp

    torch.manual_seed(0)
    ops = DARTS_OPS
    fast = MixedOp(ops, 4, 1, ops, True)
    naive = NaiveMixedOp(ops, 4, 1, ops, True)
    naive_ops = [op for name, op in zip(ops, naive.ops) if name != "none"]
    for a, b in zip(fast.ops, naive_ops):
        b.load_state_dict(a.state_dict())
    assert len(fast.ops) == 7  # none is not built at all
    x = torch.randn(2, 4, 8, 8)
    w = torch.softmax(torch.randn(8), 0)
    assert torch.allclose(fast(x, w), naive(x, w), atol=1e-6)


NARROW_REDUCE_SCRIPT = """
import torch
from nascore.ops import FactorizedReduce, ReLUConvBN
torch.manual_seed(0)
for c_in in range(2, 10):
    for size in (31, 30, 16, 15, 8):
      # FactorizedReduce, and a macro graph's downsampling projection (macro_graph.Resample: 1x1, stride 2)
      for op in (FactorizedReduce(c_in, 4), ReLUConvBN(c_in, 2 * c_in, 1, 2, 0)):
        op = op.to(memory_format=torch.channels_last)
        for _ in range(3):
            x = torch.randn(16, c_in, size, size).contiguous(memory_format=torch.channels_last).requires_grad_()
            op(x).square().sum().backward()
            assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
print("survived")
"""


def test_narrow_factorized_reduce_survives_channels_last_backward():
    """oneDNN corrupts memory in the backward of channels-last 1x1 stride-2 convs with 2-7 input channels
    (PC-DARTS's 1/K channel slices hit it, and the fabric's 4-channel downsampling projections); FactorizedReduce and
    ReLUConvBN (ops.StridedPointwiseSafeConv2d) must route those through NCHW.  In a child process, since the failure
    is an abort."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", NARROW_REDUCE_SCRIPT], cwd=root, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}, timeout=300)
    assert done.returncode == 0 and "survived" in done.stdout, done.stderr[-2000:]


def test_narrow_factorized_reduce_matches_the_wide_path():
    """The NCHW route computes the same function as the module's own convs."""
    from nascore.ops import FactorizedReduce

    torch.manual_seed(0)
    op = FactorizedReduce(4, 6).eval()
    x = torch.randn(2, 4, 10, 10)
    expected = op.bn(torch.cat([op.conv_1(op.relu(x)), op.conv_2(op.relu(x)[:, :, 1:, 1:])], dim=1))
    assert torch.allclose(op(x), expected, atol=1e-6)
