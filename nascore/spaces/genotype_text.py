"""A genotype as one line of text a person copies: the notation each family's own code writes.

* pairs (DARTS-like spaces): DARTS's ``Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5],
  reduce=[...], reduce_concat=[2, 3, 4, 5])``, the namedtuple of quark0/darts, cnn/genotypes.py, so a cell found
  here pastes into that code (and its successors, PC-DARTS and GDAS, which keep it).
* NAS-Bench-201: the benchmark's string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` (Dong and Yang, ICLR 2020).
* edge_ops (one op per edge row of a document space): ``rung: 0→1 sep_conv_3x3 · 1→2 skip_connect; ...`` when
  the edges are known, else ``rung: [sep_conv_3x3, skip_connect]``.
"""
from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

#: per cell type, the (from, to) of each edge row, as ``presenters/spaces.cell_shapes`` gives them
EdgeRows = Mapping[str, Sequence[Sequence[Any]]]


def _is_pair(item: Any) -> bool:
    return (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)
            and isinstance(item[1], int) and not isinstance(item[1], bool))


def _cell_types(genotype: Mapping[str, Any]) -> list[str]:
    return [key for key, value in genotype.items() if not key.endswith("_concat") and isinstance(value, list)]


def is_pairs(genotype: Any) -> bool:
    """Whether ``genotype`` is written in DARTS's notation: per cell type a list of [op, input] pairs."""
    if not isinstance(genotype, Mapping):
        return False
    types = _cell_types(genotype)
    return bool(types) and all(genotype[ct] and all(_is_pair(p) for p in genotype[ct]) for ct in types)


def darts_text(genotype: Mapping[str, Any]) -> str:
    """``Genotype(normal=[('op', input), ...], normal_concat=[...], ...)`` as quark0/darts writes it; each cell type
    (normal and reduce, or a document's own names) followed by its concat list when the genotype has one."""
    parts = []
    for ct in _cell_types(genotype):
        parts.append(f"{ct}=[" + ", ".join(f"({op!r}, {int(src)})" for op, src in genotype[ct]) + "]")
        concat = genotype.get(f"{ct}_concat")
        if isinstance(concat, list):
            parts.append(f"{ct}_concat=[" + ", ".join(str(n) for n in concat) + "]")
    return "Genotype(" + ", ".join(parts) + ")"


def edge_ops_text(genotype: Mapping[str, Any], edges: EdgeRows | None = None) -> str:
    """One op per edge row: ``cell: 0→1 op · 1→2 op`` with the space's edge rows, else the ops in a list."""
    parts = []
    for ct in _cell_types(genotype):
        ops = [str(op) for op in genotype[ct]]
        rows = list((edges or {}).get(ct) or [])
        if len(rows) == len(ops):
            parts.append(f"{ct}: " + " · ".join(f"{src}→{dst} {op}" for (src, dst), op in zip(rows, ops)))
        else:
            parts.append(f"{ct}: [" + ", ".join(ops) + "]")
    return "; ".join(parts)


def genotype_text(genotype: Any, edges: EdgeRows | None = None) -> str:
    """The line to show and copy for any genotype: DARTS's ``Genotype(...)`` for pairs, NB-201's string as it is,
    a document space's edge ops (``edges``: its edge rows per cell type) on one line; "" when there is none."""
    if genotype is None or genotype in ("", {}):
        return ""
    if isinstance(genotype, str):
        return genotype.strip()
    if is_pairs(genotype):
        return darts_text(genotype)
    if isinstance(genotype, Mapping) and _cell_types(genotype) and all(
            all(isinstance(op, str) for op in genotype[ct]) for ct in _cell_types(genotype)):
        return edge_ops_text(genotype, edges)
    return json.dumps(genotype, separators=(",", ":"), default=str)
