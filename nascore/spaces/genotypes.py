"""How a space writes its architectures down (its genotype notation), a registry by name.

A space written as a document names its notation (``genotype: pairs``); the notation reads a genotype back (checked
against the space), derives one from edge x op weights by the space's rule, writes the cell a sampled path ran, and
draws a genotype's cell as a graph with one op per edge.

* ``pairs``: DARTS's notation (``{normal: [[op, input_node], ...], normal_concat: [...]}``), ``inputs`` pairs per
  intermediate node; for spaces whose rule keeps ``inputs`` incoming edges per node (Liu et al., ICLR 2019; the
  ``Genotype`` of quark0/darts, cnn/genotypes.py).
* ``edge_ops``: one op per edge row of each cell (``{cell: [op, op, ...]}``); for spaces with one op on every edge.
* ``nb201_string``: NAS-Bench-201's string ``|op~0|+|op~0|op~1|+...`` (Dong and Yang, ICLR 2020), for a single cell
  whose nodes are 0..n-1, node 0 its input and n-1 its output, with an edge from every node to every later one.
"""
from __future__ import annotations

import json
from pathlib import Path

from typing import TYPE_CHECKING, Any

import networkx as nx
import torch

from nascore.spaces.architectures import ABSENT, Columns

if TYPE_CHECKING:  # pragma: no cover
    from nascore.spaces.document_space import DocumentSpace


class GenotypeError(ValueError):
    """An architecture that does not belong to the space it is read for."""


def _require_ops(names: list[str], where: str) -> None:
    from nascore.ops import is_op

    for name in names:
        if not is_op(name):
            raise GenotypeError(f"unknown op {name!r} in {where}")


class Notation:
    """A genotype notation; subclasses fill in reading, deriving and drawing."""

    name = ""
    #: what a genotype of this notation looks like, for messages
    shape = ""

    def problems(self, space: "DocumentSpace") -> dict[str, str]:
        """Why ``space`` cannot be written in this notation (``{document path: message}``)."""
        return {}

    def parse(self, space: "DocumentSpace", value: Any) -> Any:
        raise NotImplementedError

    def derive(self, space: "DocumentSpace", probs: dict[str, torch.Tensor]) -> Any:
        raise NotImplementedError

    def of_path(self, space: "DocumentSpace", columns: Columns) -> Any:
        raise NotImplementedError

    def graph(self, space: "DocumentSpace", genotype: Any, cell_type: str) -> nx.MultiDiGraph:
        raise NotImplementedError


def _best_column(weights: torch.Tensor, mask: torch.Tensor, row: int, excluded: set[int]) -> tuple[float, int]:
    """The strongest candidate of a row that is not excluded (ties: the lower column), with its weight."""
    cols = [c for c in range(mask.shape[1]) if mask[row, c] and c not in excluded]
    col = max(cols, key=lambda c: (float(weights[row, c]), -c))
    return float(weights[row, col]), col


class Pairs(Notation):
    """DARTS's notation: per intermediate node, in node order, ``inputs`` pairs ``[op, input_node]``."""

    name = "pairs"
    shape = "a mapping with, per cell type, a list of [op, input_node] pairs and its _concat list of nodes"

    def problems(self, space: "DocumentSpace") -> dict[str, str]:
        out = {}
        if space.rule_kind != "inputs_per_node":
            out["genotype"] = "the pairs notation writes k inputs per node: it needs rule kind inputs_per_node"
        for ct in space.cell_types:
            cell = space.cell_doc(ct)
            n_in = len(cell.inputs)
            if list(cell.inputs) != list(range(n_in)) or list(cell.nodes) != list(range(n_in, n_in + len(cell.nodes))):
                out[f"cells.{ct}.nodes"] = (f"the pairs notation numbers the inputs 0..{n_in - 1} and the intermediate "
                                            f"nodes from {n_in} on, in order")
        return out

    def parse(self, space: "DocumentSpace", value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise GenotypeError(f"a {space.name} genotype is {self.shape}, or one of the published names: "
                                f"{', '.join(sorted(space.published)) or 'none'}")
        k = space.rule_inputs
        parsed: dict[str, Any] = {}
        for ct in space.cell_types:
            n_in = len(space.cell_doc(ct).inputs)
            gene, concat = value.get(ct), value.get(f"{ct}_concat")
            if not isinstance(gene, list) or not gene or len(gene) % k:
                raise GenotypeError(f"{ct}: expected a non-empty list of [op, input_node] pairs, {k} per node")
            pairs = []
            for i, item in enumerate(gene):
                if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)
                        and isinstance(item[1], int) and not isinstance(item[1], bool)):
                    raise GenotypeError(f"{ct}[{i}]: expected [op, input_node], got {item!r}")
                node = n_in + i // k
                if not 0 <= item[1] < node:
                    raise GenotypeError(f"{ct}[{i}]: node {node} cannot take input from node {item[1]}")
                pairs.append([item[0], item[1]])
            _require_ops([op for op, _ in pairs], f"the {ct} cell")
            n_nodes = len(pairs) // k
            if concat is None:
                concat = list(range(n_in, n_in + n_nodes))
            if not isinstance(concat, list) or not concat or any(
                    not isinstance(n, int) or not n_in <= n < n_in + n_nodes for n in concat):
                raise GenotypeError(f"{ct}_concat must list intermediate nodes {n_in}..{n_in + n_nodes - 1}, "
                                    f"got {concat!r}")
            parsed[ct], parsed[f"{ct}_concat"] = pairs, list(concat)
        return parsed

    def derive(self, space: "DocumentSpace", probs: dict[str, torch.Tensor]) -> dict[str, Any]:
        """DARTS's rule: per node the ``inputs`` incoming edges with the strongest op that is not excluded, each
        with that op (quark0/darts, cnn/model_search.py, ``genotype()``: ``_parse``)."""
        genotype: dict[str, Any] = {}
        excluded = set(space.excluded_columns)
        for ct in space.cell_types:
            weights = probs[ct].detach().float().cpu()
            mask, edges = space.op_mask(ct), space.edges(ct)
            gene = []
            for node in space.cell_doc(ct).nodes:
                rows = [r for r, (_, dst) in enumerate(edges) if dst == node]
                strongest = sorted(rows, key=lambda r: (-_best_column(weights, mask, r, excluded)[0], r))
                for row in strongest[:space.rule_inputs]:
                    gene.append([space.ops[_best_column(weights, mask, row, excluded)[1]], edges[row][0]])
            genotype[ct] = gene
            genotype[f"{ct}_concat"] = _outputs(space, ct)
        return genotype

    def of_path(self, space: "DocumentSpace", columns: Columns) -> dict[str, Any]:
        """Each node's kept edges with their ops, in source order: exactly the cell the supernet ran."""
        genotype: dict[str, Any] = {}
        for ct in space.cell_types:
            edges = space.edges(ct)
            gene = []
            for node in space.cell_doc(ct).nodes:
                for row, (src, dst) in enumerate(edges):
                    if dst == node and columns[ct][row] != ABSENT:
                        gene.append([space.ops[columns[ct][row]], src])
            genotype[ct] = gene
            genotype[f"{ct}_concat"] = _outputs(space, ct)
        return genotype

    def graph(self, space: "DocumentSpace", genotype: Any, cell_type: str) -> nx.MultiDiGraph:
        gene, concat = genotype[cell_type], genotype[f"{cell_type}_concat"]
        inputs = list(space.cell_doc(cell_type).inputs)
        k = space.rule_inputs
        n_nodes = len(gene) // k
        single = space.cell_doc(cell_type).output.node
        # a cell whose output is one node (a macro graph's) keeps that form: _concat then lists that node alone
        output = concat[0] if single is not None and len(concat) == 1 else list(concat)
        graph = nx.MultiDiGraph(inputs=inputs, output=output, cell_type=cell_type)
        graph.add_nodes_from(inputs, kind="input")
        graph.add_nodes_from(range(len(inputs), len(inputs) + n_nodes), kind="intermediate")
        for i, (op, src) in enumerate(gene):
            graph.add_edge(src, len(inputs) + i // k, ops=[op], index=i)
        return graph


def _outputs(space: "DocumentSpace", ct: str) -> list[int]:
    """The nodes a cell outputs (its concat list, or its one output node)."""
    cell = space.cell_doc(ct)
    return list(cell.output.concat) if cell.output.concat is not None else [cell.output.node]  # type: ignore[list-item]


class EdgeOps(Notation):
    """One op per edge row of each cell type; an edge whose op is ``none`` is left out of the network (as
    NAS-Bench-201's ``InferCell`` leaves it out)."""

    name = "edge_ops"
    shape = "a mapping from each cell type to its list of ops, one per edge in the document's edge order"

    def problems(self, space: "DocumentSpace") -> dict[str, str]:
        if space.rule_kind != "one_op_per_edge":
            return {"genotype": f"the {self.name} notation writes one op on every edge: it needs rule kind "
                                "one_op_per_edge"}
        return {}

    def ops_of(self, space: "DocumentSpace", value: Any) -> dict[str, list[str]]:
        """Per cell type, its ops in edge-row order, checked against the candidates of each edge."""
        if not isinstance(value, dict):
            raise GenotypeError(f"a {space.name} genotype is {self.shape}, or one of the published names: "
                                f"{', '.join(sorted(space.published)) or 'none'}")
        out = {}
        for ct in space.cell_types:
            ops = value.get(ct)
            rows = space.edges(ct)
            if not isinstance(ops, list) or len(ops) != len(rows) or not all(isinstance(o, str) for o in ops):
                raise GenotypeError(f"{ct}: expected a list of {len(rows)} op names, one per edge")
            out[ct] = self._checked(space, ct, ops)
        return out

    @staticmethod
    def _checked(space: "DocumentSpace", ct: str, ops: list[str]) -> list[str]:
        mask = space.op_mask(ct)
        for row, ((src, dst), op) in enumerate(zip(space.edges(ct), ops)):
            if op not in space.ops or not mask[row, space.ops.index(op)]:
                allowed = [space.ops[c] for c in mask[row].nonzero().flatten().tolist()]
                raise GenotypeError(f"{ct}: op {op!r} on the edge {src}→{dst} is not one of its candidates "
                                    f"({', '.join(allowed)})")
        return list(ops)

    def parse(self, space: "DocumentSpace", value: Any) -> Any:
        return self.ops_of(space, value)

    def write(self, space: "DocumentSpace", ops: dict[str, list[str]]) -> Any:
        return ops

    def derive(self, space: "DocumentSpace", probs: dict[str, torch.Tensor]) -> Any:
        """The strongest candidate on each edge that is not excluded (NAS-Bench-201's DARTS baseline keeps
        ``none`` in: argmax per edge, D-X-Y/AutoDL-Projects, search_model_darts.py, ``genotype()``)."""
        excluded = set(space.excluded_columns)
        out = {}
        for ct in space.cell_types:
            weights = probs[ct].detach().float().cpu()
            mask = space.op_mask(ct)
            out[ct] = [space.ops[_best_column(weights, mask, r, excluded)[1]] for r in range(mask.shape[0])]
        return self.write(space, out)

    def of_path(self, space: "DocumentSpace", columns: Columns) -> Any:
        return self.write(space, {ct: [space.ops[c] for c in cols] for ct, cols in columns.items()})

    def graph(self, space: "DocumentSpace", genotype: Any, cell_type: str) -> nx.MultiDiGraph:
        ops = self.ops_of_parsed(space, genotype)[cell_type]
        search = space.cell_graph(cell_type)
        graph = nx.MultiDiGraph(**search.graph)
        graph.add_nodes_from(search.nodes(data=True))
        for row, ((src, dst), op) in enumerate(zip(space.edges(cell_type), ops)):
            if op != "none":
                graph.add_edge(src, dst, ops=[op], index=row)
        return graph

    def ops_of_parsed(self, space: "DocumentSpace", genotype: Any) -> dict[str, list[str]]:
        return genotype


class NB201String(EdgeOps):
    """NAS-Bench-201's string: group ``j`` lists the edges into node ``j`` as ``op~source``, groups joined by ``+``."""

    name = "nb201_string"
    shape = "a string like |op~0|+|op~0|op~1|+|op~0|op~1|op~2|"

    def problems(self, space: "DocumentSpace") -> dict[str, str]:
        out = super().problems(space)
        if len(space.cell_types) != 1:
            out["cells"] = "the nb201_string notation writes a single cell type"
            return out
        ct = space.cell_types[0]
        cell = space.cell_doc(ct)
        n = len(cell.inputs) + len(cell.nodes)
        dense = [(src, dst) for dst in range(1, n) for src in range(dst)]
        if list(cell.inputs) != [0] or list(cell.nodes) != list(range(1, n)) or cell.output.node != n - 1 \
                or space.edges(ct) != dense:
            out[f"cells.{ct}"] = (f"the nb201_string notation writes a cell with input node 0, nodes 1..{n - 1}, "
                                  f"output node {n - 1} and an edge from every node to every later one (edges: dense)")
        return out

    def parse(self, space: "DocumentSpace", value: Any) -> str:
        ct = space.cell_types[0]
        return self.write(space, {ct: self._checked(space, ct, self._read(space, value))})

    def write(self, space: "DocumentSpace", ops: dict[str, list[str]]) -> str:
        ct = space.cell_types[0]
        edges = space.edges(ct)
        nodes = 1 + max(dst for _, dst in edges)
        groups, i = [], 0
        for dst in range(1, nodes):
            groups.append("|" + "|".join(f"{ops[ct][i + src]}~{src}" for src in range(dst)) + "|")
            i += dst
        return "+".join(groups)

    def ops_of_parsed(self, space: "DocumentSpace", genotype: Any) -> dict[str, list[str]]:
        return {space.cell_types[0]: self._read(space, genotype)}

    def _read(self, space: "DocumentSpace", text: Any) -> list[str]:
        """The edge ops of a string, in edge-row order; raises GenotypeError naming the problem."""
        example = next(iter(space.published.values()), "|op~0|+|op~0|op~1|")
        if not isinstance(text, str):
            raise GenotypeError(f"a {space.name} architecture is a string like {example!r}")
        nodes = 1 + max(dst for _, dst in space.edges(space.cell_types[0]))
        groups = text.strip().split("+")
        if len(groups) != nodes - 1:
            raise GenotypeError(f"{text!r}: expected {nodes - 1} groups separated by '+', found {len(groups)}")
        ops: list[str] = []
        for dst, group in enumerate(groups, start=1):
            if not (group.startswith("|") and group.endswith("|")):
                raise GenotypeError(f"{text!r}: group {dst} must be enclosed in '|'")
            items = group[1:-1].split("|")
            if len(items) != dst:
                raise GenotypeError(f"{text!r}: node {dst} needs {dst} incoming edges, found {len(items)}")
            for src, item in enumerate(items):
                op, sep, node = item.partition("~")
                if not sep or node != str(src):
                    raise GenotypeError(f"{text!r}: edge {item!r} into node {dst} must read op~{src}")
                if op not in space.ops:
                    raise GenotypeError(f"{text!r}: unknown op {op!r}; {space.name} ops are {', '.join(space.ops)}")
                ops.append(op)
        return ops


NOTATIONS: dict[str, Notation] = {n.name: n for n in (Pairs(), EdgeOps(), NB201String())}
#: the notation a rule writes in when the document names none
DEFAULT_NOTATION = {"inputs_per_node": "pairs", "one_op_per_edge": "edge_ops"}


def genotype_from_text(text: str) -> Any:
    """A genotype as a command line or a study's settings give it: a published name, an nb201
    string, JSON, or a JSON file (its ``genotype`` key when it is a result); raises ValueError."""
    if text.endswith(".json"):
        path = Path(text)
        if not path.is_file():
            raise ValueError(f"genotype file {text!r} does not exist")
        data = json.loads(path.read_text(encoding="utf-8"))
        return data.get("genotype", data) if isinstance(data, dict) else data
    if text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
    return text
