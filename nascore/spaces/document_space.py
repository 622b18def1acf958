"""A search space built from a checked document (:mod:`nascore.spaces.document`): every built-in space is one, and
so is every space a user writes.  Optimizers, evaluators and the dashboard see only :class:`SearchSpace`."""
from __future__ import annotations

from functools import lru_cache
from math import prod
from typing import Any, Callable

import networkx as nx
import torch
from torch import nn

from nascore.networks.edges import EdgeFactory, categorical_factory
from nascore.spaces.architectures import Columns, InputsPerNode, OneOpPerEdge
from nascore.spaces.base import SearchSpace
from nascore.spaces.schema import (CellDoc, CellsMacro, GraphMacro, SpaceDocument, StagesMacro, cell_candidates, cell_edges,
                                     min_layers, op_name, parse_fraction, reduction_positions, size_problems)
from nascore.spaces.genotypes import DEFAULT_NOTATION, NOTATIONS, Notation


def _darts_skeleton(space: "DocumentSpace", graph_of: Callable[[str], nx.MultiDiGraph], factory: EdgeFactory,
                    channels: int, layers: int, in_channels: int, num_classes: int, affine: bool,
                    auxiliary: bool) -> nn.Module:
    from nascore.networks.darts import DartsSkeleton

    macro = space.document.macro
    assert isinstance(macro, CellsMacro)
    fractions = [parse_fraction(t) for t in macro.reductions_at]
    return DartsSkeleton(graph_of, factory, channels, layers, in_channels, num_classes, affine=affine,
                         stem_multiplier=macro.stem_multiplier, auxiliary=auxiliary, normal_type=macro.normal_cell,
                         reduce_type=macro.reduction_cell or "", channel_growth=macro.channel_growth,
                         reductions=reduction_positions(fractions, layers))  # type: ignore[arg-type]


def _stages_skeleton(space: "DocumentSpace", graph_of: Callable[[str], nx.MultiDiGraph], factory: EdgeFactory,
                     channels: int, layers: int, in_channels: int, num_classes: int, affine: bool,
                     auxiliary: bool) -> nn.Module:
    from nascore.networks.nb201 import NB201Skeleton

    macro = space.document.macro
    assert isinstance(macro, StagesMacro)
    return NB201Skeleton(graph_of(macro.cell), factory, channels, layers, in_channels, num_classes,
                         stages=macro.stages, channel_growth=macro.channel_growth, cell_type=macro.cell)


def _graph_skeleton(space: "DocumentSpace", graph_of: Callable[[str], nx.MultiDiGraph], factory: EdgeFactory,
                    channels: int, layers: int, in_channels: int, num_classes: int, affine: bool,
                    auxiliary: bool) -> nn.Module:
    from nascore.networks.macro_graph import CellOp, GraphSkeleton
    from nascore.ops import CELL_OP_PREFIX, CELL_OPS

    macro = space.document.macro
    assert isinstance(macro, GraphMacro)

    def cell_op(ct: str) -> Callable[[int, int, bool], nn.Module]:
        return lambda C, stride, op_affine: CellOp(graph_of(ct), C, stride, factory, ct, op_affine)

    # a cell:NAME op on a macro edge is that cell, built with the edges of this network (mixed or chosen)
    token = CELL_OPS.set({CELL_OP_PREFIX + ct: cell_op(ct) for ct in space.cell_types if ct != macro.cell})
    try:
        return GraphSkeleton(graph_of(macro.cell), factory, channels, in_channels, num_classes,
                             scales=space.cell_doc(macro.cell).scales or {}, affine=affine,
                             stem_multiplier=macro.stem_multiplier, channel_growth=macro.channel_growth,
                             cell_type=macro.cell)
    finally:
        CELL_OPS.reset(token)


#: the macro skeletons a document may name, by its ``macro.skeleton``
SKELETONS: dict[str, Callable[..., nn.Module]] = {"cells": _darts_skeleton, "stages": _stages_skeleton,
                                                  "graph": _graph_skeleton}


class DocumentSpace(SearchSpace):
    """The space a document describes."""

    def __init__(self, document: SpaceDocument, source: str = ""):
        self.document = document
        #: where the document came from (a built-in's file, a path, a saved space), for messages
        self.source = source
        self.name = document.name
        self.title = document.title or document.name
        self.ops = tuple(op_name(o) for o in document.ops)
        self.cell_types = tuple(document.cells)
        self.default_channels = document.defaults.channels
        self.default_layers = document.defaults.layers
        self.min_layers = min_layers(document)
        self.pool_bn = document.macro.search_pool_bn
        self.published = dict(document.published)
        self.rule_kind = document.rule.kind
        self.rule_inputs = document.rule.inputs
        self.excluded_columns = [self.ops.index(op) for op in document.rule.exclude if op in self.ops]
        self.notation: Notation = NOTATIONS[document.genotype or DEFAULT_NOTATION[document.rule.kind]]
        self._graphs: dict[str, nx.MultiDiGraph] = {}

    def __repr__(self) -> str:
        return f"<space {self.name}>"

    def cell_doc(self, cell_type: str) -> CellDoc:
        return self.document.cells[cell_type]

    # ---- the cell as data ------------------------------------------------------------------------------------------
    def cell_graph(self, cell_type: str = "") -> nx.MultiDiGraph:
        cell_type = cell_type or self.cell_types[0]
        graph = self._graphs.get(cell_type)
        if graph is None:
            if cell_type not in self.document.cells:
                raise KeyError(f"cell type {cell_type!r} is not one of {self.cell_types}")
            graph = self._graphs[cell_type] = self._build_graph(cell_type)
        return graph

    def _build_graph(self, cell_type: str) -> nx.MultiDiGraph:
        cell = self.cell_doc(cell_type)
        output = list(cell.output.concat) if cell.output.concat is not None else cell.output.node
        graph = nx.MultiDiGraph(inputs=list(cell.inputs), output=output, cell_type=cell_type)
        graph.add_nodes_from(cell.inputs, kind="input")
        graph.add_nodes_from(cell.nodes, kind="intermediate")
        if cell.output.node is not None:
            graph.nodes[cell.output.node]["kind"] = "output"
        for index, ((src, dst), ops) in enumerate(zip(cell_edges(cell), cell_candidates(self.document, cell))):
            graph.add_edge(src, dst, ops=list(ops), index=index)
        return graph

    @lru_cache(maxsize=None)
    def edges(self, cell_type: str) -> list[tuple[int, int]]:
        return cell_edges(self.cell_doc(cell_type))

    def check_size(self, channels: int | None, layers: int | None) -> dict[str, str]:
        return size_problems(self.document, channels, layers)

    # ---- networks ----------------------------------------------------------------------------------------------------
    def _skeleton(self, graph_of: Callable[[str], nx.MultiDiGraph], factory: EdgeFactory, channels: int, layers: int,
                  in_channels: int, num_classes: int, affine: bool, auxiliary: bool = False) -> nn.Module:
        return SKELETONS[self.document.macro.skeleton](self, graph_of, factory, channels, layers, in_channels,
                                                       num_classes, affine, auxiliary)

    def build_supernet(self, edge_factory: EdgeFactory, channels: int, layers: int, in_channels: int,
                       num_classes: int) -> nn.Module:
        return self._skeleton(self.cell_graph, edge_factory, channels, layers, in_channels, num_classes, affine=False)

    def build_network(self, genotype: Any, channels: int, layers: int, in_channels: int, num_classes: int,
                      auxiliary: bool = False, drop_path: bool = False) -> nn.Module:
        parsed = self.resolve(genotype)
        factory = categorical_factory(affine=True, drop_path=drop_path)
        return self._skeleton(lambda ct: self.genotype_graph(parsed, ct), factory, channels, layers, in_channels,
                              num_classes, affine=True, auxiliary=auxiliary)

    # ---- architectures -----------------------------------------------------------------------------------------------
    def _make_rule(self) -> OneOpPerEdge:
        masks = {ct: self.op_mask(ct) for ct in self.cell_types}
        if self.rule_kind == "inputs_per_node":
            return InputsPerNode(masks, {ct: self.edges(ct) for ct in self.cell_types}, inputs=self.rule_inputs,
                                 excluded=self.excluded_columns)
        return OneOpPerEdge(masks)

    def derive(self, probs: dict[str, torch.Tensor]) -> Any:
        return self.notation.derive(self, probs)

    def write_path(self, columns: Columns) -> Any:
        return self.notation.of_path(self, columns)

    def parse_genotype(self, value: Any) -> Any:
        return self.notation.parse(self, value)

    def genotype_graph(self, genotype: Any, cell_type: str = "") -> nx.MultiDiGraph:
        return self.notation.graph(self, genotype, cell_type or self.cell_types[0])

    # ---- counts ------------------------------------------------------------------------------------------------------
    def num_architectures(self) -> int:
        """How many architectures the rule allows: per cell type, the product over edges of the candidates (one op
        per edge), or over nodes of the ways to keep ``k`` inputs with an op each."""
        rule = self.architecture_rule()
        total = 1
        for ct in self.cell_types:
            counts = [len(c) for c in rule.candidates[ct]]
            if isinstance(rule, InputsPerNode):
                for _, rows in rule.nodes[ct]:
                    total *= _choose_with_weights([counts[r] for r in rows.values()], rule.inputs)
            else:
                total *= prod(counts)
        return total

    def to_document(self) -> dict[str, Any]:
        """The document's data (what ``space export`` prints)."""
        return self.document.model_dump(mode="json", by_alias=True, exclude_defaults=False)


def _choose_with_weights(weights: list[int], k: int) -> int:
    """Sum over the k-subsets of ``weights`` of their products (the elementary symmetric polynomial e_k)."""
    e = [1] + [0] * k
    for w in weights:
        for j in range(k, 0, -1):
            e[j] += e[j - 1] * w
    return e[k] if k <= len(weights) else 0


__all__ = ["DocumentSpace", "SKELETONS"]
