"""What the Spaces pages show: rows of the list, the sentences of a space's counts, its problems by place, and the
drawings (cell graphs and the macro skeleton) as SVG made here, on the server, so every page and test sees the same.

A cell is drawn as nodes in columns by depth (the longest-path layering static/js/cellgraph.js uses) with one label
per edge: its op, or its candidate ops (``8 ops`` with the list in a tooltip when there are many)."""
from __future__ import annotations

from collections import Counter

import math
from typing import Any, Iterable
from xml.sax.saxutils import escape, quoteattr

from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

#: candidate ops written out on an edge; more are counted (the full list is the edge's tooltip)
OPS_ON_EDGE = 2
COL_W, ROW_H, PAD_X, PAD_Y, RADIUS = 150, 80, 50, 40, 20


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


# ---- drawable cells -----------------------------------------------------------------------------------------------
def search_cell(cell: dict[str, Any]) -> dict[str, Any]:
    """A cell type of a summary (``cell_types[ct]``) as nodes and labelled edges (the candidates on each edge)."""
    nodes = [{"id": n, "label": f"in {n}", "kind": "input"} for n in cell["inputs"]]
    output = cell["output"]
    for n in cell["nodes"]:
        nodes.append({"id": n, "label": str(n), "kind": "output" if output == n else "inner"})
    edges = []
    for e in cell["edge_list"]:
        ops = list(e["ops"])
        label = ", ".join(ops) if len(ops) <= OPS_ON_EDGE else f"{len(ops)} ops"
        edges.append({"from": e["from"], "to": e["to"], "label": label, "ops": ops})
    if isinstance(output, list):
        nodes.append({"id": "out", "label": "out", "kind": "output"})
        edges += [{"from": n, "to": "out", "label": "", "ops": []} for n in output]
    return {"nodes": nodes, "edges": edges}


def genotype_cell(graph: Any) -> dict[str, Any]:
    """A genotype's cell (``space.genotype_graph(genotype, ct)``, one op per edge) as nodes and labelled edges,
    ``none`` edges left out (a zero op removes the edge)."""
    inputs = list(graph.graph.get("inputs", []))
    output = graph.graph.get("output")
    nodes = []
    for n, data in graph.nodes(data=True):
        kind = "input" if n in inputs else "output" if n == output else "inner"
        nodes.append({"id": n, "label": f"in {n}" if n in inputs else str(n), "kind": kind})
    edges = []
    for src, dst, data in sorted(graph.edges(data=True), key=lambda e: e[2].get("index", 0)):
        op = (data.get("ops") or [""])[0]
        if op != "none":
            edges.append({"from": src, "to": dst, "label": op, "ops": [op]})
    if isinstance(output, list):
        nodes.append({"id": "out", "label": "out", "kind": "output"})
        edges += [{"from": n, "to": "out", "label": "", "ops": []} for n in output]
    return {"nodes": nodes, "edges": edges}


def cell_shapes(space_name: Any) -> dict[str, dict[str, Any]]:
    """Each cell type's shape (inputs, intermediate nodes, output, and the (from, to) of every edge row in order) of
    the space a run names, so the pages can draw a genotype written one op per edge row (``edge_ops``), or pairs
    whose nodes are not DARTS's numbering; {} when the space is gone."""
    from nascore.spaces import get_space
    from nascore.spaces.document import DocumentError

    try:
        space = get_space(space_name)
    except (KeyError, DocumentError, TypeError):
        return {}
    out = {}
    for ct in getattr(space, "cell_types", ()):
        graph = space.cell_graph(ct)
        rows = sorted(graph.edges(data=True), key=lambda e: e[2].get("index", 0))
        out[ct] = {"inputs": list(graph.graph.get("inputs", [])), "nodes": list(space.cell_doc(ct).nodes),
                   "output": graph.graph.get("output"), "edges": [[src, dst] for src, dst, _ in rows]}
    return out


def _layout(cell: dict[str, Any]) -> tuple[dict[str, tuple[float, float]], dict[str, int]]:
    """Each node's position and column: nodes in columns by their longest path from an input."""
    key = str
    depth = {key(n["id"]): 0 for n in cell["nodes"]}
    kinds = {key(n["id"]): n["kind"] for n in cell["nodes"]}
    for _ in range(len(cell["nodes"])):
        changed = False
        for e in cell["edges"]:
            d = depth.get(key(e["from"]), 0) + 1
            if key(e["to"]) in depth and d > depth[key(e["to"])] and kinds[key(e["to"])] != "input":
                depth[key(e["to"])] = d
                changed = True
        if not changed:
            break
    columns: dict[int, list[str]] = {}
    for n in cell["nodes"]:
        columns.setdefault(depth[key(n["id"])], []).append(key(n["id"]))
    rows = max(len(c) for c in columns.values())
    height = PAD_Y * 2 + max(1, rows - 1) * ROW_H
    pos = {}
    for d, col in columns.items():
        offset = (height - (len(col) - 1) * ROW_H) / 2
        for i, n in enumerate(col):
            pos[n] = (PAD_X + d * COL_W, offset + i * ROW_H + (18 if d % 2 else 0))
    return pos, depth


def cell_svg(cell: dict[str, Any], title: str) -> SafeString:
    """The cell drawn as an SVG element (nodes by depth, one curved arrow and label per edge; an edge that skips
    columns bends further, alternately up and down, so it clears the nodes between)."""
    if not cell["nodes"]:
        return mark_safe("")
    pos, depth = _layout(cell)
    marker = "arrow-" + "".join(c for c in title if c.isalnum())
    body, labels = [], []
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    seen: dict[tuple[str, str], int] = {}
    long_edges = 0
    for e in cell["edges"]:
        a, b = pos.get(str(e["from"])), pos.get(str(e["to"]))
        if a is None or b is None:
            continue
        pair = (str(e["from"]), str(e["to"]))
        n = seen.get(pair, 0)
        seen[pair] = n + 1
        span = abs(depth[str(e["to"])] - depth[str(e["from"])])
        dx, dy = b[0] - a[0], b[1] - a[1]
        length = math.hypot(dx, dy) or 1
        sx, sy = a[0] + dx / length * RADIUS, a[1] + dy / length * RADIUS
        tx, ty = b[0] - dx / length * RADIUS, b[1] - dy / length * RADIUS
        sign = -1 if n % 2 else 1
        if span > 1:
            long_edges += 1
            sign = -1 if long_edges % 2 else 1
        bend = sign * (18 + 14 * n + 38 * max(0, span - 1)) * (1 if abs(dx) > 160 else 0.6)
        cx, cy = (sx + tx) / 2 - dy / length * bend, (sy + ty) / 2 + dx / length * bend
        cls = "edge" if e["label"] else "edge concat"
        tip = f"<title>{escape(str(e['from']))} → {escape(str(e['to']))}: {escape(', '.join(e['ops']))}</title>" if e["ops"] else ""
        body.append(f'<path class="{cls}" d="M {sx:.1f} {sy:.1f} Q {cx:.1f} {cy:.1f} {tx:.1f} {ty:.1f}" '
                    f'marker-end="url(#{marker})" data-from="{escape(str(e["from"]))}" data-to="{escape(str(e["to"]))}">'
                    f'{tip}</path>')
        if e["label"]:
            lx, ly = 0.25 * sx + 0.5 * cx + 0.25 * tx, 0.25 * sy + 0.5 * cy + 0.25 * ty
            ys.append(ly)
            labels.append(f'<text class="edge-label" x="{lx:.1f}" y="{ly:.1f}" text-anchor="middle">{tip}'
                          f'{escape(e["label"])}</text>')
    for node in cell["nodes"]:
        x, y = pos[str(node["id"])]
        body.append(f'<circle class="node node-{node["kind"]}" cx="{x:.1f}" cy="{y:.1f}" r="{RADIUS}"/>'
                    f'<text class="node-label" x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle">{escape(node["label"])}</text>')
    top, bottom = min(ys) - RADIUS - 16, max(ys) + RADIUS + 16
    left, right = min(xs) - PAD_X, max(xs) + PAD_X
    width, height = right - left, bottom - top
    head = (f'<svg class="cell-graph" viewBox="{left:.0f} {top:.0f} {width:.0f} {height:.0f}" width="100%" role="img" '
            f'aria-label={quoteattr(title)} style="max-width:{round(width * 1.3)}px" data-cell={quoteattr(title)}>'
            f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
            'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>')
    # labels last, so no edge is drawn over them
    return mark_safe(head + "".join(body[: len(body) - len(cell["nodes"])]) + "".join(labels)
                     + "".join(body[len(body) - len(cell["nodes"]):]) + "</svg>")


def macro_svg(positions: list[dict[str, Any]]) -> SafeString:
    """The skeleton left to right: stem, each cell (by type, reductions marked) or fixed block, head."""
    boxes = [{"label": "stem", "cls": "stem"}]
    if positions and positions[0]["kind"] == "node":  # a macro graph: its nodes by scale (the graph is drawn above)
        by_scale = Counter(p["scale"] for p in positions)
        positions = []
        for scale, count in sorted(by_scale.items()):
            boxes.append({"label": f"scale {scale}: {count} nodes", "cls": "cell reduction" if scale else "cell",
                          "note": f"÷{2 ** scale}" if scale else ""})
    for i, p in enumerate(positions):
        if p["kind"] == "cell":
            boxes.append({"label": p["cell_type"], "cls": "cell reduction" if p["reduction"] else "cell",
                          "note": "÷2" if p["reduction"] else ""})
        else:
            boxes.append({"label": p["block"].replace("_", " "), "cls": "block", "note": "÷2" if p["reduction"] else ""})
    boxes.append({"label": "head", "cls": "stem"})
    w, h, gap = 100, 40, 14
    width = len(boxes) * (w + gap) + gap
    out = [f'<svg class="macro-graph" viewBox="0 0 {width} {h + 36}" width="100%" role="img" '
           f'aria-label="macro skeleton" style="max-width:{width}px">']
    for i, box in enumerate(boxes):
        x = gap + i * (w + gap)
        out.append(f'<g class="macro-{box["cls"].split()[0]}{" macro-reduction" if "reduction" in box["cls"] else ""}">'
                   f'<rect x="{x}" y="8" width="{w}" height="{h}" rx="6"/>'
                   f'<text x="{x + w / 2}" y="{8 + h / 2 + 4}" text-anchor="middle">{escape(box["label"][:16])}</text>')
        if box.get("note"):
            out.append(f'<text class="macro-note" x="{x + w / 2}" y="{h + 26}" text-anchor="middle">{box["note"]}</text>')
        out.append("</g>")
        if i:
            out.append(f'<line class="macro-link" x1="{x - gap}" y1="{8 + h / 2}" x2="{x}" y2="{8 + h / 2}"/>')
    out.append("</svg>")
    return mark_safe("".join(out))


def space_url(space: str) -> str:
    """The Spaces page of an experiment's space: a built-in's, or the saved version it ran on; "" for a path."""
    from nascore.spaces import SPACES

    if space in SPACES:
        return reverse("experiments:space", args=[space])
    from webapp.experiments.selectors.spaces import parse_reference

    ref = parse_reference(space)
    if ref is not None and ref[1] is not None:
        return reverse("experiments:space_version", args=list(ref))
    return ""


# ---- sentences ----------------------------------------------------------------------------------------------------
def count_lines(summary: dict[str, Any]) -> list[str]:
    """The counts of a space at the summary's size, as sentences."""
    size = summary["size"]
    count = int(summary["architectures"])
    about = f" (about 10^{summary['architectures_log10']})" if count >= 10**6 else ""
    cells = summary["cell_types"]
    return [
        f"{_plural(len(summary['ops']), 'op')}: {', '.join(summary['ops'])}.",
        f"{_plural(len(cells), 'cell type')}: " + "; ".join(
            f"{ct}{' (reduction)' if c['reduction'] else ''} with {_plural(len(c['inputs']), 'input')}, "
            f"{_plural(len(c['nodes']), 'node')} and {_plural(c['edges'], 'edge')}" for ct, c in cells.items()) + ".",
        f"{summary['architecture_parameters']:,} architecture parameters.",
        f"{count:,} architectures{about}.",
        f"{summary['supernet_parameters']:,} supernet parameters at {size['channels']} channels and "
        f"{_plural(size['layers'], 'layer')} ({size['in_channels']} input channels, {size['num_classes']} classes).",
    ]


def rule_line(summary: dict[str, Any]) -> str:
    rule = summary["rule"]
    text = (f"Each node keeps {_plural(rule['inputs'], 'input')} with one op each"
            if rule["kind"] == "inputs_per_node" else "Each edge keeps one op")
    if rule.get("exclude"):
        text += f", never {', '.join(rule['exclude'])}"
    return f"{text}; genotypes are written in the {summary['genotype_notation']} notation."


def saved_message(name: str, reference: str) -> str:
    return (f"Saved {reference}: use it as the space “{name}” (its latest version) or “{reference}” in a new "
            "experiment.")


def save_text(reference: str) -> str:
    name, _, version = reference.partition("@")
    if version == "1":
        return f"Save stores it as {reference}, a new space of yours."
    return f"Save stores it as {reference}, the next version of {name} (the earlier ones stay as they are)."


def problem_rows(problems: dict[str, str]) -> list[dict[str, str]]:
    return [{"place": place, "message": message} for place, message in problems.items()]


def problems_heading(count: int) -> str:
    return f"{_plural(count, 'problem')} to fix" if count else "No problems: the document is a valid space."


def preview(summary: dict[str, Any]) -> dict[str, Any]:
    """Everything the preview block of a page draws from a summary."""
    return {
        "lines": count_lines(summary),
        "rule": rule_line(summary),
        "cells": [{"name": ct, "svg": cell_svg(search_cell(cell), f"{ct} cell"),
                   "edges": [{**e, "ops_text": ", ".join(e["ops"])} for e in cell["edge_list"]]}
                  for ct, cell in summary["cell_types"].items()],
        "macro": macro_svg(summary["macro"]["positions"]),
        "macro_text": macro_text(summary),
        "size": summary["size"],
    }


def macro_text(summary: dict[str, Any]) -> str:
    positions = summary["macro"]["positions"]
    if positions and positions[0]["kind"] == "node":
        scales = len({p["scale"] for p in positions})
        return (f"The graph skeleton: the macro level is the searched graph drawn above, {_plural(len(positions), 'node')}"
                f" over {_plural(scales, 'scale')} (each scale halves the resolution).")
    cells = sum(1 for p in positions if p["kind"] == "cell")
    reductions = sum(1 for p in positions if p["reduction"])
    return (f"The {summary['macro']['skeleton']} skeleton at {_plural(summary['size']['layers'], 'layer')}: "
            f"{_plural(cells, 'cell')}, {_plural(reductions, 'reduction')} (÷2: the resolution halves).")


def builtin_row(space: Any) -> dict[str, Any]:
    return {"name": space.name, "title": space.title, "cell_types": len(space.cell_types), "ops": len(space.ops),
            "export_url": reverse("experiments:space_export", args=[space.name])}


def usage_text(by_version: dict[int, int]) -> str:
    """The experiments on each version: ``3 (v1: 2, v2: 1)``, ``0`` when none."""
    total = sum(by_version.values())
    if not total:
        return "0"
    return f"{total} (" + ", ".join(f"v{v}: {n}" for v, n in sorted(by_version.items())) + ")"


def saved_row(row: Any, versions: int, used: dict[int, int]) -> dict[str, Any]:
    s = row.summary or {}
    return {"name": row.name, "version": row.version, "versions": versions, "owner": row.owner.get_username(),
            "title": row.title or row.name, "created_at": row.created_at,
            "url": reverse("experiments:space", args=[row.name]),
            "ops": len(s.get("ops", [])), "cell_types": len(s.get("cell_types", {})),
            "architectures": count_text(s), "experiments": usage_text(used)}


def count_text(summary: dict[str, Any]) -> str:
    if not summary.get("architectures"):
        return ""
    count = int(summary["architectures"])
    return f"{count:,}" if count < 10**6 else f"about 10^{summary['architectures_log10']}"


def version_rows(rows: Iterable[Any], usage: dict[str, int], current: int) -> list[dict[str, Any]]:
    return [{"version": r.version, "reference": r.reference, "created_at": r.created_at, "current": r.version == current,
             "url": reverse("experiments:space_version", args=[r.name, r.version]),
             "experiments": usage.get(r.reference, 0)} for r in rows]


# ---- the API's answers --------------------------------------------------------------------------------------------
def builtin_item(space: Any, experiments: int) -> dict[str, Any]:
    return {"name": space.name, "title": space.title, "builtin": True, "owner": None, "version": None, "versions": 1,
            "ops": len(space.ops), "cell_types": len(space.cell_types), "architectures": str(space.num_architectures()),
            "experiments": experiments}


def saved_item(row: Any, versions: int, experiments: int) -> dict[str, Any]:
    s = row.summary or {}
    return {"name": row.name, "title": row.title or row.name, "builtin": False, "owner": row.owner.get_username(),
            "version": row.version, "versions": versions, "ops": len(s.get("ops", [])),
            "cell_types": len(s.get("cell_types", {})), "architectures": str(s.get("architectures", "")),
            "experiments": experiments}


def builtin_dict(space: Any, document: str, summary: dict[str, Any]) -> dict[str, Any]:
    return {"name": space.name, "title": space.title, "builtin": True, "version": None, "reference": space.name,
            "owner": None, "created_at": None, "document": document, "summary": summary, "versions": []}


def saved_dict(row: Any, summary: dict[str, Any], versions: Iterable[Any], usage: dict[str, int]) -> dict[str, Any]:
    return {"name": row.name, "title": row.title or row.name, "builtin": False, "version": row.version,
            "reference": row.reference, "owner": row.owner.get_username(), "created_at": row.created_at.isoformat(),
            "document": row.document, "summary": summary,
            "versions": [{"version": v.version, "reference": v.reference, "created_at": v.created_at.isoformat(),
                          "experiments": usage.get(v.reference, 0)} for v in versions]}
