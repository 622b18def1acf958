"""What a search space is: data (a cell graph per cell type, candidate ops per edge,
a macro skeleton) plus how its architectures are written down and read back.

Graph conventions shared by every space and by :class:`~nascore.networks.cells.CompiledCell`:
a ``networkx.MultiDiGraph`` whose nodes are ints (tensors), ``graph.graph["inputs"]`` the
input nodes, ``graph.graph["output"]`` the output node or the list of nodes concatenated
into the output, and on each edge ``ops`` (candidate op names) and ``index`` (the edge's
row in the architecture-weight matrix).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import networkx as nx
import torch
from torch import nn

from nascore.networks.edges import EdgeFactory
from nascore.spaces.architectures import ABSENT, Columns, OneOpPerEdge
from nascore.spaces.genotypes import GenotypeError


class SearchSpace(ABC):
    name: str = ""
    title: str = ""
    cell_types: tuple[str, ...] = ()
    #: column order of every architecture-weight matrix of this space
    ops: tuple[str, ...] = ()
    default_channels: int = 16
    default_layers: int = 8
    min_layers: int = 1
    #: DARTS puts a BN after pooling ops inside the one-shot model
    pool_bn: bool = True
    #: published architectures of this space, by name
    published: dict[str, Any] = {}

    # ---- the cell as data -------------------------------------------------------
    @abstractmethod
    def cell_graph(self, cell_type: str) -> nx.MultiDiGraph:
        """The search cell: every edge with all its candidate ops."""

    def edges(self, cell_type: str) -> list[tuple[int, int]]:
        """(source, target) of each edge, in weight-row order."""
        graph = self.cell_graph(cell_type)
        rows = sorted(graph.edges(data=True), key=lambda e: e[2]["index"])
        return [(src, dst) for src, dst, _ in rows]

    def edge_labels(self, cell_type: str) -> list[str]:
        return [f"{src}→{dst}" for src, dst in self.edges(cell_type)]

    def op_mask(self, cell_type: str) -> torch.Tensor:
        """Bool matrix edges x ops: which ops are candidates on each edge."""
        graph = self.cell_graph(cell_type)
        rows = sorted(graph.edges(data=True), key=lambda e: e[2]["index"])
        mask = torch.zeros(len(rows), len(self.ops), dtype=torch.bool)
        for row, (_, _, data) in enumerate(rows):
            for name in data["ops"]:
                mask[row, self.ops.index(name)] = True
        return mask

    def num_arch_params(self) -> int:
        return int(sum(self.op_mask(ct).sum() for ct in self.cell_types))

    def check_size(self, channels: int | None, layers: int | None) -> dict[str, str]:
        """Problems with a requested network size, as ``{field: message}``."""
        errors = {}
        if layers is not None and layers < self.min_layers:
            errors["layers"] = f"the {self.name} space needs at least {self.min_layers} layers, not {layers}"
        return errors

    # ---- networks ---------------------------------------------------------------
    @abstractmethod
    def build_supernet(self, edge_factory: EdgeFactory, channels: int, layers: int, in_channels: int, num_classes: int) -> nn.Module:
        """The one-shot network; ``forward(x, weights)`` takes ``{cell_type: edges x ops}``."""

    @abstractmethod
    def build_network(self, genotype: Any, channels: int, layers: int, in_channels: int, num_classes: int,
                      auxiliary: bool = False, drop_path: bool = False) -> nn.Module:
        """The stand-alone network of a genotype, trained from scratch by an evaluator."""

    # ---- architectures ------------------------------------------------------------
    @abstractmethod
    def derive(self, probs: dict[str, torch.Tensor]) -> Any:
        """The discrete architecture picked from edge x op probabilities."""

    @abstractmethod
    def parse_genotype(self, value: Any) -> Any:
        """A genotype (or a published name) checked against the space; raises GenotypeError."""

    @abstractmethod
    def genotype_graph(self, genotype: Any, cell_type: str) -> nx.MultiDiGraph:
        """The cell of a genotype as a graph whose edges hold exactly one op each."""

    # ---- one architecture as the supernet runs it ------------------------------------------------------------
    def architecture_rule(self) -> OneOpPerEdge:
        """What an architecture of this space is, as columns per edge row (default: one candidate op per edge)."""
        rule = self.__dict__.get("_rule")
        if rule is None:
            rule = self.__dict__["_rule"] = self._make_rule()
        return rule

    def _make_rule(self) -> OneOpPerEdge:
        return OneOpPerEdge({ct: self.op_mask(ct) for ct in self.cell_types})

    def sample_architecture(self, generator: torch.Generator) -> Columns:
        """A uniformly drawn architecture, as the single-path relaxations train it (the rule's draw)."""
        return self.architecture_rule().sample_path(generator)

    def genotype_of_path(self, columns: Columns) -> Any:
        """The genotype of an architecture given as columns (the cell the supernet ran); raises GenotypeError for
        columns that are no architecture of the space."""
        problem = self.architecture_rule().problem(columns)
        if problem:
            raise GenotypeError(problem)
        return self.write_path(columns)

    def write_path(self, columns: Columns) -> Any:
        """The genotype of valid columns; default: :meth:`derive` of their one-hot rows, which for one op per edge is
        exactly that op on every edge."""
        onehots = {}
        for ct, cols in columns.items():
            rows = torch.zeros(len(cols), len(self.ops))
            rows[torch.arange(len(cols)), torch.tensor(cols, dtype=torch.long)] = 1.0
            onehots[ct] = rows
        return self.derive(onehots)

    def path_of(self, genotype: Any) -> Columns:
        """The column of each search-cell edge row that ``genotype`` uses, :data:`ABSENT` for rows it leaves out: how
        the supernet runs exactly the genotype's cells.  Raises ValueError for a genotype the supernet cannot run (an
        edge that is not in the search cell, one edge used twice, an op that is not a candidate there, other output
        nodes)."""
        parsed = self.resolve(genotype)
        out: Columns = {}
        for ct in self.cell_types:
            search = self.cell_graph(ct)
            cell = self.genotype_graph(parsed, ct)
            if cell.graph["output"] != search.graph["output"]:
                raise ValueError(f"the {ct} cell outputs {cell.graph['output']}, the search cell "
                                 f"{search.graph['output']}: the supernet cannot run it")
            row_of = {edge: row for row, edge in enumerate(self.edges(ct))}
            mask = self.op_mask(ct)
            cols = [ABSENT] * len(row_of)
            for src, dst, data in cell.edges(data=True):
                row = row_of.get((src, dst))
                op = data["ops"][0]
                if row is None:
                    raise ValueError(f"the {ct} cell has an edge {src}→{dst} that the search cell does not have")
                if cols[row] != ABSENT:
                    raise ValueError(f"the {ct} cell uses the edge {src}→{dst} twice; the supernet has it once")
                col = self.ops.index(op) if op in self.ops else ABSENT
                if col == ABSENT or not mask[row, col]:
                    raise ValueError(f"op {op!r} is not a candidate on the {ct} cell's edge {src}→{dst}")
                cols[row] = col
            out[ct] = cols
        return out

    def resolve(self, value: Any) -> Any:
        """A published name or a genotype, parsed."""
        if isinstance(value, str) and value in self.published:
            value = self.published[value]
        return self.parse_genotype(value)
