/* Draws a NAS cell as an SVG graph: nodes in columns by depth, edges labelled with their op.
 * No graphviz: the layout is a longest-path layering, which for cells (small DAGs) reads well.
 * fromGenotype(genotype, cellType, shape) and fromWeights(arch) build {nodes, edges}; a genotype
 * written one op per edge row ({cell: [op, ...]}, a document space's edge_ops) needs the cell's shape, which the
 * server sends ({inputs, output, edges: [[from, to], ...]}, presenters/spaces.py cell_shapes);
 * render(container, graph, title) draws it; parseNb201(text) reads a NAS-Bench-201 string. */
const SVG = "http://www.w3.org/2000/svg";

function el(name, attrs, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/* DARTS-like genotype {normal: [[op, input], ...], normal_concat: [2,3,4,5], ...}:
 * nodes 0 and 1 are the cell inputs, node k+2 the k-th intermediate node. */
function fromDartsGenotype(genotype, cellType, shape) {
  const pairs = genotype[cellType];
  if (!Array.isArray(pairs)) return null;
  if (shape && Array.isArray(shape.nodes) && shape.nodes.length && !dartsNumbering(shape)) return fromPairs(genotype, cellType, shape);
  const concat = Array.isArray(genotype[cellType + "_concat"]) ? genotype[cellType + "_concat"] : null;
  const steps = concat && concat.length ? Math.max(...concat) - 1 : Math.ceil(pairs.length / 2);
  const perNode = Math.max(1, Math.round(pairs.length / steps));
  const nodes = [
    { id: 0, label: "c[k-2]", kind: "input", col: 0 },
    { id: 1, label: "c[k-1]", kind: "input", col: 0 },
  ];
  for (let k = 0; k < steps; k++) nodes.push({ id: k + 2, label: String(k), kind: "inner", col: k + 1 });
  nodes.push({ id: "out", label: "c[k]", kind: "output", col: steps + 1 });
  const edges = [];
  pairs.forEach((pair, i) => {
    if (!Array.isArray(pair) || pair.length < 2) return;
    edges.push({ from: Number(pair[1]), to: Math.floor(i / perNode) + 2, op: String(pair[0]) });
  });
  for (const n of concat || nodes.filter((x) => x.kind === "inner").map((x) => x.id)) {
    edges.push({ from: Number(n), to: "out", op: "" });
  }
  return { nodes, edges };
}

/* DARTS's numbering: inputs 0 and 1, intermediate nodes 2, 3, ... (drawn as c[k-2], c[k-1], 0, 1, ...). */
function dartsNumbering(shape) {
  return String(shape.inputs) === "0,1" && shape.nodes.every((id, k) => id === k + 2);
}

/* Pairs [op, input] of a document space's cell: the pairs of each node in turn (shape.nodes), as many per node. */
function fromPairs(genotype, cellType, shape) {
  const pairs = genotype[cellType].filter((p) => Array.isArray(p) && p.length >= 2);
  const inner = shape.nodes;
  const perNode = Math.max(1, Math.round(pairs.length / inner.length));
  const nodes = (shape.inputs || []).map((id) => ({ id, label: `in ${id}`, kind: "input", col: 0 }));
  inner.forEach((id, k) => nodes.push({ id, label: String(id), kind: String(shape.output) === String(id) ? "output" : "inner", col: k + 1 }));
  const edges = pairs.map((pair, i) => ({ from: pair[1], to: inner[Math.min(inner.length - 1, Math.floor(i / perNode))], op: String(pair[0]) }));
  const concat = Array.isArray(genotype[cellType + "_concat"]) ? genotype[cellType + "_concat"] : shape.output;
  if (Array.isArray(concat)) {
    nodes.push({ id: "out", label: "out", kind: "output", col: inner.length + 1 });
    for (const n of concat) edges.push({ from: n, to: "out", op: "" });
  }
  return { nodes, edges };
}

/* NAS-Bench-201 string "|op~0|+|op~0|op~1|+|...|": group i holds the edges into node i+1, as "op~from" items
 * (the "none" ops included); null when the text is not one. */
function parseNb201(text) {
  const groups = String(text).split("+").map((g) => g.split("|").filter((s) => s.length));
  if (!groups.length || groups.some((g) => g.some((s) => s.indexOf("~") < 0))) return null;
  return groups;
}

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
    for (const item of group) {
      const [op, src] = item.split("~");
      if (op === "none") continue; // a zero op removes the edge
      edges.push({ from: Number(src), to: i + 1, op });
    }
  });
  return { nodes, edges };
}

/* One op per edge row: row i of the shape is the edge that ops[i] sits on; "none" removes the edge. */
function fromEdgeOps(ops, shape) {
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

function fromGenotype(genotype, cellType, shape) {
  if (typeof genotype === "string") return fromNb201String(genotype);
  const gene = genotype && typeof genotype === "object" ? genotype[cellType] : null;
  if (Array.isArray(gene) && gene.length && gene.every((op) => typeof op === "string")) return fromEdgeOps(gene, shape);
  if (genotype && typeof genotype === "object") return fromDartsGenotype(genotype, cellType, shape);
  return null;
}

/* From an edges x ops distribution: the strongest op per edge (ignoring "none"). */
function fromWeights(cell) {
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
    edges.push({ from: a, to: b, op: bestOp });
  });
  const targets = new Set(edges.map((e) => String(e.to)));
  const sources = new Set(edges.map((e) => String(e.from)));
  const nodes = [...ids].map((id) => ({ id, label: id, kind: !targets.has(id) ? "input" : !sources.has(id) ? "output" : "inner" }));
  return { nodes, edges };
}

function layout(graph) {
  const key = (id) => String(id);
  const depth = new Map(graph.nodes.map((n) => [key(n.id), 0]));
  // longest-path layering (cells are DAGs; the bound guards against bad input)
  for (let pass = 0; pass < graph.nodes.length; pass++) {
    let changed = false;
    for (const e of graph.edges) {
      const d = (depth.get(key(e.from)) || 0) + 1;
      if (depth.has(key(e.to)) && d > depth.get(key(e.to))) { depth.set(key(e.to), d); changed = true; }
    }
    if (!changed) break;
  }
  const columns = new Map();
  for (const n of graph.nodes) {
    const d = typeof n.col === "number" ? n.col : depth.get(key(n.id)); // fixed columns keep epochs comparable
    if (!columns.has(d)) columns.set(d, []);
    columns.get(d).push(n);
  }
  const maxRows = Math.max(...[...columns.values()].map((c) => c.length));
  const colW = 150, rowH = 90, padX = 50, padY = 40;
  const height = padY * 2 + Math.max(1, maxRows - 1) * rowH + 20;
  const pos = new Map();
  for (const [d, col] of columns) {
    col.forEach((n, i) => {
      const offset = (height - (col.length - 1) * rowH) / 2;
      pos.set(key(n.id), { x: padX + d * colW, y: offset + i * rowH + (d % 2 ? 18 : 0) });
    });
  }
  const width = padX * 2 + (Math.max(...columns.keys()) || 0) * colW;
  return { pos, width, height: height + 20 };
}

function render(container, graph, title) {
  container.textContent = "";
  if (!graph || !graph.nodes.length) return;
  const { pos, width, height } = layout(graph);
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img", "aria-label": title || "cell" });
  svg.style.maxWidth = `${Math.round(width * 1.3)}px`;
  svg.classList.add("cell-graph");
  const defs = el("defs");
  const marker = el("marker", { id: "arrow-" + (title || "c").replace(/\W/g, ""), viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  marker.appendChild(el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#555" }));
  defs.appendChild(marker);
  svg.appendChild(defs);
  const markerRef = `url(#${marker.getAttribute("id")})`;
  const pairCount = new Map();
  const labels = el("g");
  for (const e of graph.edges) {
    const a = pos.get(String(e.from));
    const b = pos.get(String(e.to));
    if (!a || !b) continue;
    const pair = `${e.from}|${e.to}`;
    const n = pairCount.get(pair) || 0;
    pairCount.set(pair, n + 1);
    const dx = b.x - a.x, dy = b.y - a.y;
    const len = Math.hypot(dx, dy) || 1;
    const r = 20; // node radius: stop the arrow at the circle
    const sx = a.x + (dx / len) * r, sy = a.y + (dy / len) * r;
    const tx = b.x - (dx / len) * r, ty = b.y - (dy / len) * r;
    const bend = (n % 2 ? -1 : 1) * (18 + 14 * n) * (Math.abs(dx) > 160 ? 1 : 0.6);
    const cx = (sx + tx) / 2 - (dy / len) * bend, cy = (sy + ty) / 2 + (dx / len) * bend;
    // e.diff: the comparison page marks edges where this cell differs from the others
    const diff = e.diff ? " diff" : "";
    svg.appendChild(el("path", { d: `M ${sx} ${sy} Q ${cx} ${cy} ${tx} ${ty}`, class: (e.op ? "edge" : "edge concat") + diff, "marker-end": markerRef }));
    if (e.op) {
      const lx = 0.25 * sx + 0.5 * cx + 0.25 * tx, ly = 0.25 * sy + 0.5 * cy + 0.25 * ty;
      labels.appendChild(el("text", { x: lx, y: ly, class: "edge-label" + diff, "text-anchor": "middle" }, e.op));
    }
  }
  svg.appendChild(labels);
  for (const n of graph.nodes) {
    const p = pos.get(String(n.id));
    svg.appendChild(el("circle", { cx: p.x, cy: p.y, r: 20, class: "node node-" + n.kind }));
    svg.appendChild(el("text", { x: p.x, y: p.y + 4, class: "node-label", "text-anchor": "middle" }, n.label));
  }
  if (title) {
    const h = document.createElement("h3");
    h.textContent = title;
    container.appendChild(h);
  }
  container.appendChild(svg);
}

export { fromGenotype, fromEdgeOps, fromWeights, render, parseNb201 };
