"""What a space holds, in numbers: its cells, architecture parameters, how many architectures it allows, and the
supernet's parameters at a size (``space check``, the dashboard's Spaces page)."""
from __future__ import annotations

import math
from typing import Any

from nascore.spaces.schema import CellsMacro, GraphMacro, parse_fraction, reduction_positions
from nascore.spaces.document_space import DocumentSpace


def macro_positions(space: DocumentSpace, layers: int) -> list[dict[str, Any]]:
    """The skeleton's blocks in order: each cell with its type, and the fixed blocks between stages."""
    macro = space.document.macro
    if isinstance(macro, CellsMacro):
        fractions = [parse_fraction(t) for t in macro.reductions_at]
        reductions = set(reduction_positions(fractions, layers))  # type: ignore[arg-type]
        return [{"kind": "cell", "cell_type": macro.reduction_cell if i in reductions else macro.normal_cell,
                 "reduction": i in reductions} for i in range(layers)]
    if isinstance(macro, GraphMacro):  # the macro graph's nodes, each at its scale
        scales = space.cell_doc(macro.cell).scales or {}
        return [{"kind": "node", "node": n, "scale": scales.get(n, 0)} for n in space.cell_doc(macro.cell).nodes]
    out: list[dict[str, Any]] = []
    for stage in range(macro.stages):
        if stage:
            out.append({"kind": "block", "block": macro.between_stages, "reduction": True})
        out += [{"kind": "cell", "cell_type": macro.cell, "reduction": False} for _ in range(layers)]
    return out


def summarize(space: DocumentSpace, channels: int | None = None, layers: int | None = None, in_channels: int = 3,
              num_classes: int = 10) -> dict[str, Any]:
    """The summary ``space check`` prints; the supernet is built once to count its parameters."""
    from nascore.networks.edges import mixed_op_factory

    channels = channels or space.default_channels
    layers = layers or space.default_layers
    cells = {}
    for ct in space.cell_types:
        graph = space.cell_graph(ct)
        cells[ct] = {"inputs": list(graph.graph["inputs"]), "nodes": list(space.cell_doc(ct).nodes),
                     "output": graph.graph["output"], "edges": len(space.edges(ct)),
                     "reduction": space.cell_doc(ct).reduction,
                     "edge_list": [{"from": s, "to": d, "ops": list(data["ops"])}
                                   for s, d, data in sorted(graph.edges(data=True), key=lambda e: e[2]["index"])]}
    count = space.num_architectures()
    supernet = space.build_supernet(mixed_op_factory(space.ops, space.pool_bn), channels, layers, in_channels,
                                    num_classes)
    return {
        "name": space.name, "title": space.title, "ops": list(space.ops), "cell_types": cells,
        "rule": space.document.rule.model_dump(), "genotype_notation": space.notation.name,
        "macro": {"skeleton": space.document.macro.skeleton, "positions": macro_positions(space, layers)},
        "architecture_parameters": space.num_arch_params(),
        "architectures": str(count), "architectures_log10": round(math.log10(count), 2) if count else None,
        "size": {"channels": channels, "layers": layers, "in_channels": in_channels, "num_classes": num_classes},
        "supernet_parameters": sum(p.numel() for p in supernet.parameters()),
        "published": sorted(space.published),
    }


def render(summary: dict[str, Any]) -> str:
    """The summary for a person."""
    lines = [f"{summary['name']}: {summary['title']}", f"ops ({len(summary['ops'])}): {', '.join(summary['ops'])}"]
    for ct, cell in summary["cell_types"].items():
        out = cell["output"]
        out_text = f"concat of {out}" if isinstance(out, list) else f"node {out}"
        lines.append(f"cell {ct}{' (reduction)' if cell['reduction'] else ''}: inputs {cell['inputs']}, "
                     f"nodes {cell['nodes']}, {cell['edges']} edges, output {out_text}")
    rule = summary["rule"]
    rule_text = (f"keep {rule['inputs']} inputs per node" if rule["kind"] == "inputs_per_node"
                 else "one op per edge")
    if rule["exclude"]:
        rule_text += f", never {', '.join(rule['exclude'])}"
    lines.append(f"rule: {rule_text}; genotypes in the {summary['genotype_notation']} notation")
    size = summary["size"]
    positions = summary["macro"]["positions"]
    if positions and positions[0]["kind"] == "node":
        scales = sorted({p["scale"] for p in positions})
        lines.append(f"macro (graph): {len(positions)} nodes over {len(scales)} scales")
    else:
        kinds = ", ".join(p["cell_type"] if p["kind"] == "cell" else p["block"] for p in positions)
        lines.append(f"macro ({summary['macro']['skeleton']}, {size['layers']} layers): {kinds}")
    lines.append(f"architecture parameters: {summary['architecture_parameters']:,}")
    lines.append(f"architectures: {int(summary['architectures']):,} (about 10^{summary['architectures_log10']})")
    lines.append(f"supernet parameters at C={size['channels']}, {size['layers']} layers, {size['in_channels']} input "
                 f"channels, {size['num_classes']} classes: {summary['supernet_parameters']:,}")
    if summary["published"]:
        lines.append(f"published architectures: {', '.join(summary['published'])}")
    return "\n".join(lines)
