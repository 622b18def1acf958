"""A search space written as a document (YAML or JSON), and its checking.

The document names the ops (registry names, or a family with its kernel), each cell type's graph (input nodes,
intermediate nodes, edges with their candidate ops, how a node combines its inputs, what the cell outputs), the
rule that turns weights into an architecture, the genotype notation, the macro skeleton and its default size, and
published architectures.  :func:`check_document` reports every problem at once as ``{place in the document:
message}``; :func:`load_space` builds a :class:`~nascore.spaces.document_space.DocumentSpace` from a valid one and
registers nothing.  The built-in spaces are documents too (``nascore/spaces/documents/``).
"""
from __future__ import annotations

import json
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import networkx as nx
import yaml
from pydantic import ValidationError

from nascore.spaces.schema import (  # noqa: F401  (the document's names, as they always were)
    CellDoc,
    CellsMacro,
    DocumentError,
    EdgeDoc,
    FORMAT,
    FamilyOp,
    Macro,
    NAME_PATTERN,
    OpEntry,
    OutputDoc,
    RuleDoc,
    SizeDoc,
    SpaceDocument,
    StagesMacro,
    cell_candidates,
    cell_edges,
    min_layers,
    op_name,
    parse_fraction,
    reduction_positions,
    size_problems,
)





























# ---- reading ------------------------------------------------------------------------------------------------------
def read_text(text: str) -> Any:
    """A document's data from YAML or JSON text (JSON is YAML); raises DocumentError naming the line."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "document"
        raise DocumentError({where: f"not YAML or JSON: {getattr(exc, 'problem', None) or exc}"}) from None


def read_file(path: str | Path) -> Any:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError({"file": f"cannot read {path}: {exc}"}) from None
    return read_text(text)


def _place(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("str", "FamilyOp", "list[EdgeDoc]", "literal['dense']", "cells", "stages") and out:
            continue  # a union's branch name says nothing to the writer
        else:
            out += ("." if out else "") + str(part)
    return out or "document"


def structure_problems(data: Any) -> tuple[SpaceDocument | None, dict[str, str]]:
    """The document parsed by its schema, or the problems with its structure (types, unknown keys, bounds)."""
    if not isinstance(data, dict):
        return None, {"document": "a space document is a mapping (name, ops, cells, rule, macro, ...)"}
    try:
        return SpaceDocument.model_validate(data), {}
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for err in exc.errors():
            place = _place(err["loc"])
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            problems.setdefault(place, msg)
        return None, problems


# ---- meaning ------------------------------------------------------------------------------------------------------


def _op_problem(entry: OpEntry) -> str | None:
    from nascore.ops import MAX_KERNEL, OP_FAMILIES, OPS, is_op

    if isinstance(entry, FamilyOp):
        if entry.family not in OP_FAMILIES:
            return f"unknown op family {entry.family!r}; families: {', '.join(sorted(OP_FAMILIES))}"
        if entry.kernel % 2 == 0 or entry.kernel > MAX_KERNEL:
            return f"a {entry.family} kernel is odd and at most {MAX_KERNEL}, not {entry.kernel}"
        return None
    if is_op(entry):
        return None
    near = get_close_matches(entry, sorted(OPS), n=3)
    hint = f" (did you mean {' or '.join(repr(n) for n in near)}?)" if near else ""
    return f"unknown op {entry!r}{hint}; ops: {', '.join(sorted(OPS))}, or a family with a kernel ({{family: sep_conv, kernel: 9}})"










def _cell_problems(doc: SpaceDocument, ct: str, cell: CellDoc, ops: list[str]) -> dict[str, str]:
    where = f"cells.{ct}"
    out: dict[str, str] = {}
    inputs, nodes = list(cell.inputs), list(cell.nodes)
    if len(set(inputs + nodes)) != len(inputs) + len(nodes):
        out[f"{where}.nodes"] = "every node (inputs and intermediate nodes) needs its own number"
        return out
    known = set(inputs) | set(nodes)
    if cell.edge_ops is not None and cell.edges != "dense":
        out[f"{where}.edge_ops"] = "edge_ops goes with dense edges; give each listed edge its own ops"
    rows = cell_edges(cell)
    if cell.edge_ops is not None and len(cell.edge_ops) != len(rows):
        out[f"{where}.edge_ops"] = f"one list of candidates per edge: the cell has {len(rows)} edges, not {len(cell.edge_ops)}"
        return out
    seen: dict[tuple[int, int], int] = {}
    for row, (src, dst) in enumerate(rows):
        place = f"{where}.edges[{row}]" if cell.edges != "dense" else f"{where}.edges"
        if src not in known or dst not in known:
            out[place] = f"the edge {src}→{dst} names a node the cell does not have ({sorted(known)})"
        elif dst in inputs:
            out[place] = f"the edge {src}→{dst} enters an input node; inputs come from earlier cells"
        elif (src, dst) in seen:
            out[place] = f"the edge {src}→{dst} is listed twice (rows {seen[(src, dst)]} and {row})"
        seen.setdefault((src, dst), row)
    candidates = cell_candidates(doc, cell)
    for row, cands in enumerate(candidates):
        place = (f"{where}.edge_ops[{row}]" if cell.edge_ops is not None
                 else f"{where}.edges[{row}].ops" if cell.edges != "dense" and cell.edges[row].ops is not None
                 else f"{where}.ops")
        if not cands:
            out[place] = "an edge needs at least one candidate op"
        for op in cands:
            if op not in ops:
                out[place] = f"op {op!r} is not one of the space's ops ({', '.join(ops)})"
        if len(set(cands)) != len(cands):
            out[place] = "a candidate op is listed twice"
    if cell.output.concat is None and cell.output.node is None or (cell.output.concat is not None
                                                                   and cell.output.node is not None):
        out[f"{where}.output"] = "give either concat (a list of nodes) or node (one node)"
        return out
    outputs = list(cell.output.concat) if cell.output.concat is not None else [cell.output.node]
    if not outputs or any(n not in nodes for n in outputs):
        out[f"{where}.output"] = f"the output must name intermediate nodes of the cell ({nodes}), not {outputs}"
    if out:
        return out
    graph = nx.DiGraph()
    graph.add_nodes_from(known)
    graph.add_edges_from(rows)
    try:
        cycle = nx.find_cycle(graph)
        out[f"{where}.edges"] = "the graph has a cycle: " + " → ".join(str(a) for a, _ in cycle) + f" → {cycle[0][0]}"
        return out
    except nx.NetworkXNoCycle:
        pass
    reached = set().union(*(nx.descendants(graph, i) for i in inputs))
    for node in nodes:
        if node not in reached:
            out[f"{where}.nodes"] = f"node {node} is reached from no input (nothing feeds it)"
            break
    feeding = set(outputs).union(*(nx.ancestors(graph, n) for n in outputs))
    for node in nodes:
        if node not in feeding:
            out.setdefault(f"{where}.nodes", f"node {node} reaches no output: what it computes is never used")
            break
    if not any(i in feeding for i in inputs):
        out[f"{where}.output"] = "the output does not depend on any input"
    order = {n: k for k, n in enumerate(nodes)}
    for src, dst in rows:
        if src in order and order[src] >= order[dst]:
            out.setdefault(f"{where}.nodes", f"node {dst} takes node {src}, listed after it: list nodes in the order "
                                             "they are computed")
    return out


def _rule_problems(doc: SpaceDocument, ops: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for op in doc.rule.exclude:
        if op not in ops:
            out["rule.exclude"] = f"op {op!r} is not one of the space's ops ({', '.join(ops)})"
    excluded = set(doc.rule.exclude)
    for ct, cell in doc.cells.items():
        rows = cell_edges(cell)
        cands = cell_candidates(doc, cell)
        usable = [[o for o in c if o not in excluded] for c in cands]
        if doc.rule.kind == "one_op_per_edge":
            for row, ((src, dst), ok) in enumerate(zip(rows, usable)):
                if not ok:
                    out.setdefault("rule", f"the rule cannot pick an op on the {ct} cell's edge {src}→{dst}: every "
                                           "candidate is excluded")
                    break
        else:
            for node in cell.nodes:
                incoming = [r for r, (_, dst) in enumerate(rows) if dst == node and usable[r]]
                if len(incoming) < doc.rule.inputs:
                    out.setdefault("rule.inputs", f"the rule keeps {doc.rule.inputs} inputs per node, but node {node} of the "
                                          f"{ct} cell has {len(incoming)} incoming edges with an op it may keep")
                    break
    return out


def _macro_problems(doc: SpaceDocument) -> dict[str, str]:
    out: dict[str, str] = {}
    macro = doc.macro
    used: list[tuple[str, str]] = []
    if isinstance(macro, CellsMacro):
        used = [("macro.normal_cell", macro.normal_cell)]
        if macro.reduction_cell is not None:
            used.append(("macro.reduction_cell", macro.reduction_cell))
        elif macro.reductions_at:
            out["macro.reductions_at"] = "reductions need a reduction_cell"
        for k, text in enumerate(macro.reductions_at):
            if parse_fraction(text) is None:
                out[f"macro.reductions_at[{k}]"] = f"a fraction of the depth strictly between 0 and 1 (1/3), not {text!r}"
        for place, ct in used:
            cell = doc.cells.get(ct)
            if cell is not None and len(cell.inputs) not in (1, 2):
                out[f"cells.{ct}.inputs"] = "a cell of the cells skeleton takes the one or two previous cells' outputs"
        if macro.reduction_cell in doc.cells and not doc.cells[macro.reduction_cell].reduction:
            out[f"cells.{macro.reduction_cell}.reduction"] = "the reduction cell needs reduction: true"
        if macro.normal_cell in doc.cells and doc.cells[macro.normal_cell].reduction:
            out[f"cells.{macro.normal_cell}.reduction"] = "the normal cell cannot reduce"
    else:
        used = [("macro.cell", macro.cell)]
        cell = doc.cells.get(macro.cell)
        if cell is not None:
            if len(cell.inputs) != 1:
                out[f"cells.{macro.cell}.inputs"] = "a cell of the stages skeleton takes one input (the previous cell)"
            if cell.output.node is None:
                out[f"cells.{macro.cell}.output"] = "a cell of the stages skeleton outputs one node (channels stay the same)"
            if cell.reduction:
                out[f"cells.{macro.cell}.reduction"] = "the stages skeleton reduces between stages, not in cells"
    for place, ct in used:
        if ct not in doc.cells:
            out[place] = f"no cell type {ct!r}; the document's cells are {', '.join(doc.cells)}"
    unused = [ct for ct in doc.cells if ct not in {c for _, c in used}]
    if unused:
        out["cells"] = f"cell type {unused[0]!r} is used nowhere in the macro skeleton"
    return out






def check_document(data: Any) -> tuple[SpaceDocument | None, dict[str, str]]:
    """The parsed document and every problem with it, each named by its place (``cells.normal.edges[3]``)."""
    doc, problems = structure_problems(data)
    if doc is None:
        return None, problems
    names = [op_name(o) for o in doc.ops]
    for k, entry in enumerate(doc.ops):
        problem = _op_problem(entry)
        if problem:
            problems[f"ops[{k}]"] = problem
    if len(set(names)) != len(names):
        problems["ops"] = "an op is listed twice"
    for ct, cell in doc.cells.items():
        for k, entry in enumerate([*(cell.ops or []), *(o for row in cell.edge_ops or [] for o in row)]):
            problem = _op_problem(entry)
            if problem:
                problems.setdefault(f"cells.{ct}.ops", problem)
    for ct, cell in doc.cells.items():
        problems.update(_cell_problems(doc, ct, cell, names))
    problems.update(_macro_problems(doc))
    if problems:
        return doc, problems
    problems.update(_rule_problems(doc, names))
    problems.update(size_problems(doc, doc.defaults.channels, doc.defaults.layers))
    problems = {("defaults." + k if k in ("layers", "channels") else k): v for k, v in problems.items()}
    if problems:
        return doc, problems
    from nascore.spaces.document_space import DocumentSpace
    from nascore.spaces.genotypes import DEFAULT_NOTATION, NOTATIONS, GenotypeError

    space = DocumentSpace(doc)
    problems.update(NOTATIONS[doc.genotype or DEFAULT_NOTATION[doc.rule.kind]].problems(space))
    if problems:
        return doc, problems
    for name, genotype in doc.published.items():
        try:
            space.parse_genotype(genotype)
        except GenotypeError as exc:
            problems[f"published.{name}"] = str(exc)
    return doc, problems


def load_space(data: Any, source: str = "") -> "DocumentSpace":
    """A space from a document's data (raises :class:`DocumentError` with every problem); nothing is registered."""
    from nascore.spaces.document_space import DocumentSpace

    doc, problems = check_document(data)
    if problems or doc is None:
        raise DocumentError(problems)
    return DocumentSpace(doc, source=source)


def dump(data: Any, as_json: bool = False) -> str:
    """A document's data as YAML (or JSON) text."""
    if as_json:
        return json.dumps(data, indent=2) + "\n"
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=120)
