/* A NAS cell drawn as the DARTS, PC-DARTS and GDAS papers draw it: left to right, the inputs c_{k-2}, c_{k-1},
 * the intermediate nodes in order, the output c_{k}, every edge labelled with its op in that op's colour
 * (cells/layout.js places everything so that no label covers another or a node; cells/palette.js keys the colours
 * by op name), a legend of the ops drawn, and SVG / PNG downloads (cells/export.js).
 *
 * Building the graph {nodes, edges}: fromGenotype(genotype, cellType, shape) reads DARTS pairs, a document space's
 * pairs or edge ops (``shape``: {inputs, nodes, output, edges: [[from, to], ...]}, presenters/spaces.py
 * cell_shapes) and NAS-Bench-201 strings; fromWeights(cell) the strongest op per edge of an edges x ops
 * distribution. A node's ``col`` fixes its column, so the cells of successive epochs line up; an edge's ``diff``
 * marks it as one where the cell differs from those it is compared with. A ``none`` op is no edge. */
import { layout, nodeLabelParts, FONT } from "./cells/layout.js";
import { exportButtons } from "./cells/export.js";
import { textColor } from "./cells/palette.js";

export { layout } from "./cells/layout.js";
export { opColor } from "./cells/palette.js";
export { standaloneSvg, bindCopyButtons } from "./cells/export.js";

const SVG = "http://www.w3.org/2000/svg";
const NODE_FILL = { input: "#b4e0b4", inner: "#bcdcf2", output: "#eee8aa" };  // the DARTS figures' colours
const LABEL_FONT = "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace";
const NODE_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif";
const DIFF = "#e65100";
/* the least font size, in CSS pixels, labels are drawn at before op names are abbreviated */
const MIN_FONT_PX = 9;

/* NAS-Bench-201's string "|op~0|+|op~0|op~1|+|...|" as its groups: group i lists [op, source] of the edges into
 * node i + 1; null when the text is not one. The one parser of the string in the pages. */
export function parseNb201(text) {
  if (typeof text !== "string") return null;
  const groups = text.trim().split("+").map((g) => g.split("|").filter((s) => s.length));
  if (!groups.length || groups.some((g) => !g.length || g.some((s) => s.indexOf("~") < 0))) return null;
  return groups.map((g) => g.map((item) => {
    const [op, src] = item.split("~");
    return [op, Number(src)];
  }));
}

/* DARTS's numbering: inputs 0 and 1, intermediate nodes 2, 3, ... (drawn as c_{k-2}, c_{k-1}, 0, 1, ...). */
function dartsNumbering(shape) {
  return String(shape.inputs) === "0,1" && shape.nodes.every((id, k) => id === k + 2);
}

/* DARTS-like genotype {normal: [[op, input], ...], normal_concat: [2,3,4,5], ...}: nodes 0 and 1 are the cell
 * inputs, node k+2 the k-th intermediate node. */
function fromDartsGenotype(genotype, cellType, shape) {
  const pairs = genotype[cellType];
  if (!Array.isArray(pairs)) return null;
  if (shape && Array.isArray(shape.nodes) && shape.nodes.length && !dartsNumbering(shape)) return fromPairs(genotype, cellType, shape);
  const concat = Array.isArray(genotype[cellType + "_concat"]) ? genotype[cellType + "_concat"] : null;
  const steps = concat && concat.length ? Math.max(...concat) - 1 : Math.ceil(pairs.length / 2);
  const perNode = Math.max(1, Math.round(pairs.length / steps));
  const nodes = [
    { id: 0, label: "c_{k-2}", kind: "input", col: 0 },
    { id: 1, label: "c_{k-1}", kind: "input", col: 0 },
  ];
  for (let k = 0; k < steps; k++) nodes.push({ id: k + 2, label: String(k), kind: "inner", col: k + 1 });
  nodes.push({ id: "out", label: "c_{k}", kind: "output", col: steps + 1 });
  const edges = [];
  pairs.forEach((pair, i) => {
    if (!Array.isArray(pair) || pair.length < 2 || pair[0] === "none") return;
    edges.push({ from: Number(pair[1]), to: Math.floor(i / perNode) + 2, op: String(pair[0]) });
  });
  for (const n of concat || nodes.filter((x) => x.kind === "inner").map((x) => x.id)) {
    edges.push({ from: Number(n), to: "out", op: "" });
  }
  return { nodes, edges };
}

/* Pairs [op, input] of a document space's cell: the pairs of each node in turn (shape.nodes), as many per node. */
function fromPairs(genotype, cellType, shape) {
  const pairs = genotype[cellType].filter((p) => Array.isArray(p) && p.length >= 2);
  const inner = shape.nodes;
  const perNode = Math.max(1, Math.round(pairs.length / inner.length));
  const nodes = (shape.inputs || []).map((id) => ({ id, label: `in ${id}`, kind: "input", col: 0 }));
  inner.forEach((id, k) => nodes.push({ id, label: String(id), kind: String(shape.output) === String(id) ? "output" : "inner", col: k + 1 }));
  const edges = [];
  pairs.forEach((pair, i) => {
    if (pair[0] !== "none") edges.push({ from: pair[1], to: inner[Math.min(inner.length - 1, Math.floor(i / perNode))], op: String(pair[0]) });
  });
  const concat = Array.isArray(genotype[cellType + "_concat"]) ? genotype[cellType + "_concat"] : shape.output;
  if (Array.isArray(concat)) {
    nodes.push({ id: "out", label: "out", kind: "output", col: inner.length + 1 });
    for (const n of concat) edges.push({ from: n, to: "out", op: "" });
  }
  return { nodes, edges };
}

/* NAS-Bench-201 string: node 0 the input, the last node the output, one column each; ``none`` edges left out. */
function fromNb201String(text) {
  const groups = parseNb201(text);
  if (!groups) return null;
  const count = groups.length + 1;
  const nodes = [];
  for (let i = 0; i < count; i++) {
    nodes.push({ id: i, label: i === 0 ? "in" : i === count - 1 ? "out" : String(i), kind: i === 0 ? "input" : i === count - 1 ? "output" : "inner", col: i });
  }
  const edges = [];
  groups.forEach((group, i) => {
    for (const [op, src] of group) if (op !== "none") edges.push({ from: src, to: i + 1, op });
  });
  return { nodes, edges };
}

/* One op per edge row: row i of the shape is the edge that ops[i] sits on; "none" removes the edge. */
export function fromEdgeOps(ops, shape) {
  if (!shape || !Array.isArray(shape.edges) || !Array.isArray(ops)) return null;
  const inputs = new Set((shape.inputs || []).map(String));
  const output = shape.output;
  const ids = [];
  const seen = new Set();
  const add = (id) => { if (!seen.has(String(id))) { seen.add(String(id)); ids.push(id); } };
  for (const id of shape.inputs || []) add(id);
  for (const [from, to] of shape.edges) { add(from); add(to); }
  const nodes = ids.map((id) => ({
    id, label: inputs.has(String(id)) ? `in ${id}` : String(id),
    kind: inputs.has(String(id)) ? "input" : String(output) === String(id) ? "output" : "inner",
  }));
  const edges = [];
  ops.forEach((op, i) => {
    const row = shape.edges[i];
    if (row && op !== "none") edges.push({ from: row[0], to: row[1], op: String(op) });
  });
  if (Array.isArray(output)) {
    nodes.push({ id: "out", label: "out", kind: "output" });
    for (const n of output) edges.push({ from: n, to: "out", op: "" });
  }
  return { nodes, edges };
}

export function fromGenotype(genotype, cellType, shape) {
  if (typeof genotype === "string") return fromNb201String(genotype);
  const gene = genotype && typeof genotype === "object" ? genotype[cellType] : null;
  if (Array.isArray(gene) && gene.length && gene.every((op) => typeof op === "string")) return fromEdgeOps(gene, shape);
  if (genotype && typeof genotype === "object") return fromDartsGenotype(genotype, cellType, shape);
  return null;
}

/* From an edges x ops distribution: the strongest op per edge (ignoring "none"). */
export function fromWeights(cell) {
  const ids = new Set();
  const edges = [];
  cell.edges.forEach((label, row) => {
    const [a, b] = String(label).split(/→|->/).map((s) => s.trim());
    let best = -1;
    let bestOp = "";
    cell.ops.forEach((op, j) => {
      const w = (cell.weights[row] || [])[j];
      if (op !== "none" && typeof w === "number" && w > best) { best = w; bestOp = op; }
    });
    ids.add(a); ids.add(b);
    if (bestOp) edges.push({ from: a, to: b, op: bestOp });
  });
  const targets = new Set(edges.map((e) => String(e.to)));
  const sources = new Set(edges.map((e) => String(e.from)));
  const nodes = [...ids].map((id) => ({ id, label: id, kind: !targets.has(id) ? "input" : !sources.has(id) ? "output" : "inner" }));
  return { nodes, edges };
}

function el(name, attrs, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/* The layout that fits ``available`` CSS pixels with labels at MIN_FONT_PX or more: full op names where they
 * fit, abbreviated ones where not. */
export function fittedLayout(graph, available) {
  const full = layout(graph);
  if (!(available > 0) || (FONT * available) / full.width >= MIN_FONT_PX) return full;
  const compact = layout(graph, { compact: true });
  return compact.width < full.width ? compact : full;
}

function nodeText(n) {
  const { base, sub } = nodeLabelParts(n.label);
  const text = el("text", { x: n.cx, y: n.cy + 4.5, class: "node-label", "text-anchor": "middle",
    style: `font: 600 13px ${NODE_FONT}; fill: #1d2430; stroke: none;` }, base);
  if (sub) text.appendChild(el("tspan", { dy: 4, style: "font-size: 9.5px;" }, sub));
  return text;
}

/* Draw ``graph`` into ``container`` (emptied first): a heading ``title``, the SVG, and its download buttons. Every
 * style is inline, so a downloaded SVG looks as the page does. Returns the layout drawn. */
export function render(container, graph, title) {
  container.textContent = "";
  if (!graph || !graph.nodes.length) return null;
  const g = fittedLayout(graph, container.clientWidth);
  const label = title || "cell";
  const svg = el("svg", { viewBox: `0 0 ${g.width} ${g.height}`, width: "100%", role: "img", "aria-label": label,
    class: "cell-graph cell-drawing", "data-compact": g.compact ? "1" : "0" });
  svg.style.maxWidth = `${Math.round(g.width * 1.2)}px`;
  svg.appendChild(el("title", {}, label));
  const name = new Map(g.nodes.map((n) => [String(n.id), n.label.replace(/_\{(.*)\}$/, "$1")]));
  const said = g.edges.filter((e) => e.op).map((e) => `${e.op} from ${name.get(String(e.from))} to ${name.get(String(e.to))}`);
  svg.appendChild(el("desc", {}, said.join("; ")));

  const edgeLayer = el("g", { class: "edges" });
  for (const e of g.edges) {
    const diff = e.diff ? " diff" : "";
    if (e.diff) edgeLayer.appendChild(el("path", { d: e.path, class: "edge-halo", style: `fill: none; stroke: ${DIFF}; stroke-width: 7; stroke-opacity: .45; stroke-linecap: round;` }));
    edgeLayer.appendChild(el("path", { d: e.path, class: (e.op ? "edge" : "edge concat") + diff, "data-op": e.op,
      style: `fill: none; stroke: ${e.stroke}; stroke-width: ${e.op ? 1.8 : 1.3};${e.op ? "" : " stroke-dasharray: 4 3;"}` }));
    edgeLayer.appendChild(el("path", { d: e.arrowPath, class: "edge-arrow", style: `fill: ${e.stroke}; stroke: none;` }));
  }
  svg.appendChild(edgeLayer);

  const nodeLayer = el("g", { class: "nodes" });
  for (const n of g.nodes) {
    nodeLayer.appendChild(el("rect", { x: n.x, y: n.y, width: n.width, height: n.height, rx: n.kind === "inner" ? n.height / 2 : 6,
      class: "node node-" + n.kind, "data-id": String(n.id), style: `fill: ${NODE_FILL[n.kind] || NODE_FILL.inner}; stroke: #333; stroke-width: 1.2;` }));
    nodeLayer.appendChild(nodeText(n));
  }
  svg.appendChild(nodeLayer);

  const labelLayer = el("g", { class: "edge-labels" });
  for (const e of g.edges) {
    if (!e.label) continue;
    const b = e.label;
    const box = el("g", { class: "edge-label-box", "data-op": e.op });
    box.appendChild(el("title", {}, e.op));
    box.appendChild(el("rect", { x: b.x, y: b.y, width: b.width, height: b.height, rx: 4,
      style: `fill: ${e.color}; stroke: ${e.diff ? DIFF : "rgba(0,0,0,.35)"}; stroke-width: ${e.diff ? 2.5 : 0.8};` }));
    box.appendChild(el("text", { x: b.x + b.width / 2, y: b.y + b.height / 2 + g.font * 0.35, "text-anchor": "middle",
      textLength: b.width - 10, lengthAdjust: "spacingAndGlyphs", class: "edge-label" + (e.diff ? " diff" : ""), "data-op": e.op,
      style: `font: ${e.diff ? 700 : 500} ${g.font}px ${LABEL_FONT}; fill: ${textColor(e.color)}; stroke: none;` }, b.text));
    labelLayer.appendChild(box);
  }
  svg.appendChild(labelLayer);

  const legend = el("g", { class: "cell-legend" });
  for (const it of g.legend.items) {
    const item = el("g", { class: "legend-item", "data-op": it.op });
    item.appendChild(el("rect", { x: it.x, y: it.y + 2, width: 14, height: 12, rx: 3, style: `fill: ${it.color}; stroke: rgba(0,0,0,.35); stroke-width: .8;` }));
    item.appendChild(el("text", { x: it.x + 20, y: it.y + 8 + g.legend.font * 0.35, class: "legend-label", style: `font: ${g.legend.font}px ${LABEL_FONT}; fill: #1d2430; stroke: none;` }, it.text));
    legend.appendChild(item);
  }
  svg.appendChild(legend);

  if (title) {
    const h = document.createElement("h3");
    h.textContent = title;
    container.appendChild(h);
  }
  container.appendChild(svg);
  container.appendChild(exportButtons(svg, label));
  return g;
}
