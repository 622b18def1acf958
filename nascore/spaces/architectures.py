"""What one architecture of a space is, for everything that draws, changes or scores architectures one at a time
(single-path relaxations, ENAS's controller, the black-box samplers, the one-shot derivations, the selection stage).

An architecture is written as one column (an op of ``space.ops``) per edge row of each cell type's search cell,
:data:`ABSENT` for an edge the architecture leaves out; the supernet runs it as it is (an absent edge computes
nothing that reaches its node).  A rule says which of those are architectures of the space and how to draw one as
a sequence of decisions (what a controller or a policy learns to make):

* :class:`OneOpPerEdge`: one candidate op on every edge (NAS-Bench-201; RobustDARTS's spaces if their cells kept
  every edge).  One decision per edge row.
* :class:`InputsPerNode`: DARTS's cells: each intermediate node takes ``inputs`` distinct earlier nodes, one op on
  each, never an excluded op (``none``).  Per node the decisions are the inputs, then their ops, as ENAS's
  controller samples them (melodyguan/enas, src/cifar10/micro_controller.py, lines 150-189: index_1, index_2,
  then op_1, op_2) and as RS-WS draws its cells (liamcli/randomNAS_release,
  benchmarks/cnn/darts/darts_wrapper_discrete.py, sample_arch, lines 258-273).

Each rule also writes an architecture as named categorical parameters of a hyperparameter study (``suggest`` /
``trial_values``; :mod:`nascore.hpo.nas_problems`), every name with the same choices whatever else was chosen.
"""
from __future__ import annotations

import itertools
from typing import Any, Callable, Hashable, Mapping, Sequence

import torch

#: the column of an edge the architecture leaves out
ABSENT = -1
Columns = dict[str, list[int]]
#: one decision: its kind ("op" or "input"), the key of what it reads (a policy's logits row) and the values allowed
Decision = tuple[str, Hashable, list[int]]
#: ``ask(name, choices) -> one of choices``: how a named categorical parameter is chosen (Optuna's
#: ``trial.suggest_categorical``, or a lookup in a trial's stored parameters)
Ask = Callable[[str, list[str]], Any]


def edge_param(cell_type: str, src: int, dst: int) -> str:
    """The study parameter holding the op of a cell type's edge ``src -> dst``."""
    return f"arch.{cell_type}.{src}-{dst}"


def inputs_param(cell_type: str, node: int) -> str:
    """The study parameter holding the input set of a cell type's intermediate node."""
    return f"arch.{cell_type}.node{node}.inputs"


def _choice(n: int, generator: torch.Generator) -> int:
    return int(torch.randint(n, (1,), generator=generator))


def _copy(arch: Columns) -> Columns:
    return {ct: list(cols) for ct, cols in arch.items()}


class OneOpPerEdge:
    """Every edge computes one of its candidate ops (``masks``: per cell type, bool edges x ops)."""

    def __init__(self, masks: dict[str, torch.Tensor]):
        self.masks = {ct: m.detach().cpu().bool() for ct, m in masks.items()}
        #: per cell type and edge row, the candidate columns
        self.candidates = {ct: [torch.nonzero(row).flatten().tolist() for row in m] for ct, m in self.masks.items()}
        self.num_ops = next(iter(self.masks.values())).shape[1]
        #: how many values an "input" decision may take (0: the rule makes none)
        self.num_nodes = 0

    # ---- drawing ---------------------------------------------------------------------------------------------
    def sample(self, generator: torch.Generator) -> Columns:
        """A uniform draw: one candidate per edge (one uniform per edge; ``torch.multinomial`` costs ten times more,
        which shows when a tabular benchmark makes evaluations free)."""
        out = {}
        for ct, rows in self.candidates.items():
            draws = torch.rand(len(rows), generator=generator, dtype=torch.float64).tolist()
            out[ct] = [row[min(int(u * len(row)), len(row) - 1)] for row, u in zip(rows, draws)]
        return out

    def sample_path(self, generator: torch.Generator) -> Columns:
        """The draw single-path relaxations train on: one candidate per edge by ``torch.multinomial`` (the stream
        they always drew; :meth:`sample` is the black-box samplers' cheaper one)."""
        return {ct: torch.multinomial(m.float(), 1, generator=generator).squeeze(1).tolist()
                for ct, m in self.masks.items()}

    def mutate(self, arch: Columns, generator: torch.Generator) -> Columns:
        """One edge's op changed to another of its candidates (Regularized Evolution's op mutation)."""
        child = _copy(arch)
        mutable = [(ct, r) for ct, rows in self.candidates.items() for r, row in enumerate(rows) if len(row) > 1]
        if not mutable:
            return child
        ct, row = mutable[_choice(len(mutable), generator)]
        others = [c for c in self.candidates[ct][row] if c != child[ct][row]]
        child[ct][row] = others[_choice(len(others), generator)]
        return child

    def neighbours(self, arch: Columns) -> list[Columns]:
        """Every architecture one op change away, in a fixed order."""
        out = []
        for ct, rows in self.candidates.items():
            for r, row in enumerate(rows):
                for col in row:
                    if len(row) > 1 and col != arch[ct][r]:
                        child = _copy(arch)
                        child[ct][r] = col
                        out.append(child)
        return out

    def problem(self, arch: Columns) -> str | None:
        """Why ``arch`` is not an architecture of this rule, or None."""
        for ct, rows in self.candidates.items():
            cols = arch.get(ct)
            if cols is None or len(cols) != len(rows):
                return f"the {ct} cell needs one column per edge ({len(rows)})"
            for r, (col, row) in enumerate(zip(cols, rows)):
                if col not in row:
                    return f"edge row {r} of the {ct} cell has column {col}, not one of its candidates {row}"
        return None

    # ---- as named categorical parameters (a hyperparameter study's) -----------------------------------------
    def suggest(self, ask: Ask, ops: Sequence[str], edges: Mapping[str, Sequence[tuple[int, int]]]) -> Columns:
        """An architecture from named categorical choices: ``ask(name, choices)`` returns one of ``choices`` (an
        Optuna trial's ``suggest_categorical``, or a lookup in stored parameters).  One parameter per edge row,
        ``arch.<cell type>.<source>-<target>``, over the names (``ops``) of that row's candidates: a parameter's
        choices are the same whatever else was chosen, as Optuna requires.  ``edges``: the (source, target) of each
        edge row per cell type (``space.edges``)."""
        out = {}
        for ct, rows in self.candidates.items():
            out[ct] = [ops.index(ask(edge_param(ct, src, dst), [ops[c] for c in row]))
                       for row, (src, dst) in zip(rows, edges[ct])]
        return out

    def trial_values(self, arch: Columns, ops: Sequence[str],
                     edges: Mapping[str, Sequence[tuple[int, int]]]) -> dict[str, str]:
        """The parameters :meth:`suggest` reads to make ``arch`` (its inverse).  An :data:`ABSENT` edge (a genotype's
        cell leaves out its zero ops, as NB-201's ``none``) reads as the row's candidate named ``none``."""
        return {edge_param(ct, src, dst): ops[col] if col != ABSENT else "none" for ct, cols in arch.items()
                for col, (src, dst) in zip(cols, edges[ct])}

    # ---- as a sequence of decisions (a controller's, a policy's) -------------------------------------------
    def num_decisions(self, cell_type: str) -> int:
        return len(self.candidates[cell_type])

    def decision(self, cell_type: str, index: int, made: Sequence[int]) -> Decision:
        """Decision ``index`` of a cell, given the values ``made`` before it in that cell."""
        return "op", index, self.candidates[cell_type][index]

    def columns(self, cell_type: str, values: Sequence[int]) -> list[int]:
        """The cell's columns from its decisions' values."""
        return [int(v) for v in values]

    def values(self, cell_type: str, columns: Sequence[int]) -> list[int]:
        """The decisions' values that make the cell ``columns`` (inverse of :meth:`columns`)."""
        return [int(c) for c in columns]


class InputsPerNode(OneOpPerEdge):
    """DARTS's cells: each intermediate node keeps ``inputs`` distinct incoming edges, each with one candidate op
    other than the ``excluded`` columns; the other edges are :data:`ABSENT`.  ``edges``: per cell type, the
    (source, target) of each edge row."""

    def __init__(self, masks: dict[str, torch.Tensor], edges: dict[str, list[tuple[int, int]]], inputs: int = 2,
                 excluded: Sequence[int] = ()):
        super().__init__(masks)
        self.inputs = inputs
        self.candidates = {ct: [[c for c in row if c not in excluded] for row in rows]
                           for ct, rows in self.candidates.items()}
        #: per cell type, each intermediate node with its incoming edge rows by source
        self.nodes: dict[str, list[tuple[int, dict[int, int]]]] = {}
        for ct, pairs in edges.items():
            by_node: dict[int, dict[int, int]] = {}
            for row, (src, dst) in enumerate(pairs):
                by_node.setdefault(dst, {})[src] = row
            self.nodes[ct] = sorted(by_node.items())
            for node, rows in self.nodes[ct]:
                if len(rows) < inputs or any(not self.candidates[ct][r] for r in rows.values()):
                    raise ValueError(f"node {node} of the {ct} cell cannot take {inputs} inputs with an op each")
        self.num_nodes = 1 + max(dst for pairs in edges.values() for _, dst in pairs)

    def _cell(self, ct: str, picks: list[list[tuple[int, int]]]) -> list[int]:
        cols = [ABSENT] * len(self.candidates[ct])
        for (_, rows), chosen in zip(self.nodes[ct], picks):
            for src, col in chosen:
                cols[rows[src]] = col
        return cols

    def _picks(self, ct: str, cols: Sequence[int]) -> list[list[tuple[int, int]]]:
        """Per node, its (source, column) pairs in source order."""
        return [[(src, cols[row]) for src, row in sorted(rows.items()) if cols[row] != ABSENT]
                for _, rows in self.nodes[ct]]

    def sample(self, generator: torch.Generator) -> Columns:
        """Per node, ``inputs`` distinct sources uniformly, then a uniform op on each (RS-WS's ``sample_arch``)."""
        out = {}
        for ct, nodes in self.nodes.items():
            picks = []
            for _, rows in nodes:
                sources = sorted(rows)
                chosen = [sources[i] for i in torch.randperm(len(sources), generator=generator)[: self.inputs].tolist()]
                picks.append([(src, self.candidates[ct][rows[src]][_choice(len(self.candidates[ct][rows[src]]),
                                                                             generator)]) for src in chosen])
            out[ct] = self._cell(ct, picks)
        return out

    def sample_path(self, generator: torch.Generator) -> Columns:
        """Single paths are drawn as RS-WS draws its cells: :meth:`sample`."""
        return self.sample(generator)

    def _moves(self, arch: Columns) -> list[Columns]:
        """Every cell one change away: one kept edge's op changed (op mutation), or one kept edge moved to another
        source of the same node, keeping its op where that op is a candidate there, else each candidate in turn
        (hidden-state mutation; Real et al., AAAI 2019, section 2)."""
        out = []
        for ct in self.nodes:
            picks = self._picks(ct, arch[ct])
            for n, (_, rows) in enumerate(self.nodes[ct]):
                used = {src for src, _ in picks[n]}
                for k, (src, col) in enumerate(picks[n]):
                    for other in self.candidates[ct][rows[src]]:
                        if other != col:
                            out.append(self._with(arch, ct, picks, n, k, (src, other)))
                    for new_src in sorted(rows):
                        if new_src in used:
                            continue
                        cands = self.candidates[ct][rows[new_src]]
                        for new_col in ([col] if col in cands else cands):
                            out.append(self._with(arch, ct, picks, n, k, (new_src, new_col)))
        return out

    def _with(self, arch: Columns, ct: str, picks: list[list[tuple[int, int]]], n: int, k: int,
              pick: tuple[int, int]) -> Columns:
        changed = [list(p) for p in picks]
        changed[n][k] = pick
        child = _copy(arch)
        child[ct] = self._cell(ct, changed)
        return child

    def mutate(self, arch: Columns, generator: torch.Generator) -> Columns:
        moves = self._moves(arch)
        return moves[_choice(len(moves), generator)] if moves else _copy(arch)

    def neighbours(self, arch: Columns) -> list[Columns]:
        return self._moves(arch)

    def problem(self, arch: Columns) -> str | None:
        for ct, nodes in self.nodes.items():
            cols = arch.get(ct)
            if cols is None or len(cols) != len(self.candidates[ct]):
                return f"the {ct} cell needs one column per edge ({len(self.candidates[ct])}), ABSENT for left-out ones"
            for node, rows in nodes:
                kept = [r for r in rows.values() if cols[r] != ABSENT]
                if len(kept) != self.inputs:
                    return f"node {node} of the {ct} cell takes {len(kept)} inputs, not {self.inputs}"
                for r in kept:
                    if cols[r] not in self.candidates[ct][r]:
                        return (f"edge row {r} of the {ct} cell has column {cols[r]}, not one of "
                                f"{self.candidates[ct][r]}")
        return None

    # ---- named categorical parameters: per node its inputs, then each chosen edge's op ----------------------------
    def input_choices(self, cell_type: str, rows: Mapping[int, int]) -> list[str]:
        """A node's possible input sets, each written as its sources joined by ``+`` in order (``0+2``)."""
        return ["+".join(str(src) for src in combo) for combo in itertools.combinations(sorted(rows), self.inputs)]

    def suggest(self, ask: Ask, ops: Sequence[str], edges: Mapping[str, Sequence[tuple[int, int]]]) -> Columns:
        """Per node one parameter ``arch.<cell type>.node<j>.inputs`` over its input sets (``0+2``), then per
        chosen edge one parameter ``arch.<cell type>.<source>-<j>`` over the names of that edge row's candidates
        (less the excluded ops): fixed choices per name, an edge's op asked only when the edge is kept (a
        conditional parameter)."""
        out = {}
        for ct, nodes in self.nodes.items():
            picks = []
            for node, rows in nodes:
                chosen = ask(inputs_param(ct, node), self.input_choices(ct, rows))
                picks.append([(src, ops.index(ask(edge_param(ct, src, node),
                                                  [ops[c] for c in self.candidates[ct][rows[src]]])))
                              for src in (int(v) for v in str(chosen).split("+"))])
            out[ct] = self._cell(ct, picks)
        return out

    def trial_values(self, arch: Columns, ops: Sequence[str],
                     edges: Mapping[str, Sequence[tuple[int, int]]]) -> dict[str, str]:
        out = {}
        for ct, nodes in self.nodes.items():
            for (node, _), picks in zip(nodes, self._picks(ct, arch[ct])):
                out[inputs_param(ct, node)] = "+".join(str(src) for src, _ in picks)
                out.update({edge_param(ct, src, node): ops[col] for src, col in picks})
        return out

    # ---- decisions: per node, the inputs then their ops (ENAS's micro controller) -------------------------------
    def num_decisions(self, cell_type: str) -> int:
        return 2 * self.inputs * len(self.nodes[cell_type])

    def decision(self, cell_type: str, index: int, made: Sequence[int]) -> Decision:
        per_node = 2 * self.inputs
        n, k = divmod(index, per_node)
        node, rows = self.nodes[cell_type][n]
        start = n * per_node
        if k < self.inputs:  # an input: any earlier node not taken yet by this node
            taken = set(made[start:start + k])
            return "input", ("input", n, k), [src for src in sorted(rows) if src not in taken]
        src = made[start + k - self.inputs]
        return "op", rows[src], self.candidates[cell_type][rows[src]]

    def columns(self, cell_type: str, values: Sequence[int]) -> list[int]:
        per_node = 2 * self.inputs
        picks = []
        for n in range(len(self.nodes[cell_type])):
            v = values[n * per_node:(n + 1) * per_node]
            picks.append([(int(v[k]), int(v[self.inputs + k])) for k in range(self.inputs)])
        return self._cell(cell_type, picks)

    def values(self, cell_type: str, columns: Sequence[int]) -> list[int]:
        out: list[int] = []
        for picks in self._picks(cell_type, columns):
            out += [src for src, _ in picks] + [col for _, col in picks]
        return out
