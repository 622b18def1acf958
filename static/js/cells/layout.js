/* Where everything of a cell drawing goes, computed without a DOM so tests can check the geometry: a layered
 * left-to-right layout as the DARTS, PC-DARTS and GDAS papers draw cells (inputs on the left, the intermediate
 * nodes in order, the output on the right), each edge a cubic curve whose op sits in a small box on it.
 *
 * Edges are placed one by one, short ones first: each tries bends (0, above, below, further out ...) and positions
 * along the curve, and takes the cheapest that puts its label on no node and no other label and runs its curve
 * through no node; when nothing fits the bends allowed grow, so the drawing grows taller rather than overlap.
 * Boxes are {x, y, width, height} with (x, y) the top-left corner, in the SVG's user units. */
import { abbreviate, opColor, strokeColor } from "./palette.js";

export const FONT = 12;           // label font size (user units); monospace, 0.6 em a character
const COMPACT_FONT = 14;          // abbreviated labels are short: drawn larger, as the drawing is shrunk more
const CHAR = 0.6;
const LABEL_PAD = 5;
const NODE_H = 30;
const STEP = 22;                  // how far one bend level moves a curve's middle
const MARGIN = 3;                 // the least gap between a label and a node or another label
const SAMPLES = 28;
const T_CHOICES = [0.5, 0.42, 0.58, 0.34, 0.66, 0.26, 0.74];

export function textWidth(text, font = FONT) {
  return String(text).length * font * CHAR;
}

/* A node's label as drawn: "c_{k-2}" is c with the subscript k-2. */
export function nodeLabelParts(label) {
  const m = String(label).match(/^(.*?)_\{(.*)\}$/);
  return m ? { base: m[1], sub: m[2] } : { base: String(label), sub: "" };
}

function nodeWidth(node) {
  const { base, sub } = nodeLabelParts(node.label);
  const text = base.length * 8 + sub.length * 6.5 + 16;
  return Math.max(node.kind === "inner" ? NODE_H : 44, Math.ceil(text));
}

export function overlaps(a, b, gap = 0) {
  return a.x < b.x + b.width + gap && b.x < a.x + a.width + gap && a.y < b.y + b.height + gap && b.y < a.y + a.height + gap;
}

/* Columns: a node's fixed ``col`` where it has one (keeps the epochs of a run comparable), else the longest path
 * from an input; inputs first, the columns renumbered 0, 1, 2, ... */
function columns(graph) {
  const key = (id) => String(id);
  const depth = new Map(graph.nodes.map((n) => [key(n.id), 0]));
  for (let pass = 0; pass < graph.nodes.length; pass++) {
    let changed = false;
    for (const e of graph.edges) {
      const d = (depth.get(key(e.from)) || 0) + 1;
      if (depth.has(key(e.to)) && d > depth.get(key(e.to))) { depth.set(key(e.to), d); changed = true; }
    }
    if (!changed) break;
  }
  const raw = new Map();
  // inputs first; any other node right of them, even one whose edges in are all none
  for (const n of graph.nodes) raw.set(key(n.id), typeof n.col === "number" ? n.col : n.kind === "input" ? 0 : Math.max(1, depth.get(key(n.id))));
  // an output without a fixed column goes right of every other node (even one whose edge to it is none)
  const others = graph.nodes.filter((n) => !(n.kind === "output" && typeof n.col !== "number")).map((n) => raw.get(key(n.id)));
  const last = others.length ? Math.max(...others) + 1 : 0;
  for (const n of graph.nodes) if (n.kind === "output" && typeof n.col !== "number") raw.set(key(n.id), last);
  const order = [...new Set(raw.values())].sort((a, b) => a - b);
  return new Map([...raw].map(([id, c]) => [id, order.indexOf(c)]));
}

function bezier(p, t) {
  const u = 1 - t;
  return [
    u * u * u * p[0][0] + 3 * u * u * t * p[1][0] + 3 * u * t * t * p[2][0] + t * t * t * p[3][0],
    u * u * u * p[0][1] + 3 * u * u * t * p[1][1] + 3 * u * t * t * p[2][1] + t * t * t * p[3][1],
  ];
}

/* Whether the segment a-b crosses the box (Liang-Barsky clipping). */
function segmentHitsBox(a, b, box) {
  let t0 = 0, t1 = 1;
  const dx = b[0] - a[0], dy = b[1] - a[1];
  const tests = [[-dx, a[0] - box.x], [dx, box.x + box.width - a[0]], [-dy, a[1] - box.y], [dy, box.y + box.height - a[1]]];
  for (const [p, q] of tests) {
    if (p === 0) { if (q < 0) return false; continue; }
    const r = q / p;
    if (p < 0) { if (r > t1) return false; if (r > t0) t0 = r; } else { if (r < t0) return false; if (r < t1) t1 = r; }
  }
  return true;
}

function bounds(points) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const [x, y] of points) { x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y); }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

function polylineHitsBox(points, box, extent = bounds(points)) {
  if (!overlaps(extent, box)) return false;
  for (let i = 0; i < points.length - 1; i++) if (segmentHitsBox(points[i], points[i + 1], box)) return true;
  return false;
}

function segmentsCross(a, b, c, d) {
  const cross = (p, q, r) => (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]);
  const d1 = cross(c, d, a), d2 = cross(c, d, b), d3 = cross(a, b, c), d4 = cross(a, b, d);
  return d1 * d2 < 0 && d3 * d4 < 0;
}

function crossings(p, q, pBox, qBox) {
  if (!overlaps(pBox, qBox)) return 0;
  let n = 0;
  for (let i = 0; i < p.length - 1; i++) for (let j = 0; j < q.length - 1; j++) if (segmentsCross(p[i], p[i + 1], q[j], q[j + 1])) n++;
  return n;
}

const grow = (box, by) => ({ x: box.x - by, y: box.y - by, width: box.width + 2 * by, height: box.height + 2 * by });

/* The layout of ``graph`` ({nodes, edges} as cellgraph.js builds it). ``options.compact`` abbreviates op names
 * (sep3 for sep_conv_3x3), for narrow screens. Returns {width, height, font, compact, nodes, edges, labels, legend}. */
export function layout(graph, options = {}) {
  const compact = Boolean(options.compact);
  const font = compact ? COMPACT_FONT : FONT;
  const key = (id) => String(id);
  const colOf = columns(graph);
  const nodes = graph.nodes.map((n) => ({ id: n.id, label: String(n.label), kind: n.kind, col: colOf.get(key(n.id)), width: nodeWidth(n), height: NODE_H }));
  const byId = new Map(nodes.map((n) => [key(n.id), n]));
  const drawn = graph.edges.filter((e) => byId.has(key(e.from)) && byId.has(key(e.to)));
  const labelText = (op) => (compact ? abbreviate(op) : String(op));
  const labelW = Math.max(0, ...drawn.filter((e) => e.op).map((e) => textWidth(labelText(e.op), font) + 2 * LABEL_PAD));
  const labelH = font + 7;

  // x: columns side by side, the gap between two columns wide enough for a label; y: a column's nodes stacked
  const colCount = Math.max(...nodes.map((n) => n.col)) + 1;
  const colWidth = Array.from({ length: colCount }, (_, c) => Math.max(NODE_H, ...nodes.filter((n) => n.col === c).map((n) => n.width)));
  const gap = Math.max(labelW * 0.72 + 12, 40);
  const colX = [];
  for (let c = 0, x = 0; c < colCount; c++) {
    // the inputs' edges fan out into the first gap: it gets a whole label's width
    x += c === 0 ? colWidth[0] / 2 : colWidth[c - 1] / 2 + (c === 1 ? Math.max(gap, labelW + 14) : gap) + colWidth[c] / 2;
    colX.push(x);
  }
  const rowGap = NODE_H + 2 * labelH + 48;
  for (let c = 0; c < colCount; c++) {
    const col = nodes.filter((n) => n.col === c);
    col.forEach((n, i) => { n.cx = colX[c]; n.cy = (i - (col.length - 1) / 2) * rowGap; });
  }
  for (const n of nodes) Object.assign(n, { x: n.cx - n.width / 2, y: n.cy - n.height / 2 });

  // ports: the edges into a node spread over its left side, the edges out of it over its right side
  const port = new Map();
  const spread = (list, node, side) => {
    list.sort((a, b) => a.other.cy - b.other.cy || a.other.cx - b.other.cx || a.index - b.index);
    const step = list.length > 1 ? Math.min(7, (node.height - 10) / (list.length - 1)) : 0;
    list.forEach((item, j) => port.set(`${item.index}:${side}`, [side === "in" ? node.x : node.x + node.width, node.cy + (j - (list.length - 1) / 2) * step]));
  };
  for (const n of nodes) {
    spread(drawn.map((e, index) => ({ e, index, other: byId.get(key(e.from)) })).filter((x) => key(x.e.to) === key(n.id)), n, "in");
    spread(drawn.map((e, index) => ({ e, index, other: byId.get(key(e.to)) })).filter((x) => key(x.e.from) === key(n.id)), n, "out");
  }

  const placedLabels = [];
  const placedPaths = [];
  const routes = new Array(drawn.length);
  const order = drawn.map((e, index) => ({ e, index }));
  const span = (e) => Math.abs(byId.get(key(e.to)).col - byId.get(key(e.from)).col);
  order.sort((a, b) => (a.e.op ? 0 : 1) - (b.e.op ? 0 : 1) || span(a.e) - span(b.e) || byId.get(key(a.e.to)).col - byId.get(key(b.e.to)).col || a.index - b.index);

  for (const { e, index } of order) {
    const src = byId.get(key(e.from)), dst = byId.get(key(e.to));
    const p0 = port.get(`${index}:out`), p3 = port.get(`${index}:in`);
    const reach = Math.max(Math.abs(p3[0] - p0[0]) * 0.45, 24);
    const others = nodes.filter((n) => n !== src && n !== dst).map((n) => grow(n, MARGIN));
    const text = e.op ? labelText(e.op) : "";
    const w = e.op ? textWidth(text, font) + 2 * LABEL_PAD : 0;
    let best = null;
    for (let limit = 3; !best && limit <= 60; limit += 3) {
      for (let level = 0; level <= limit; level++) {
        for (const sign of level === 0 ? [0] : [-1, 1]) {
          const bend = sign * level;
          const lift = bend * STEP * 4 / 3;
          const ctrl = [p0, [p0[0] + reach, p0[1] + lift], [p3[0] - reach, p3[1] + lift], p3];
          const points = Array.from({ length: SAMPLES + 1 }, (_, i) => bezier(ctrl, i / SAMPLES));
          const extent = bounds(points);
          if (others.some((box) => polylineHitsBox(points, box, extent))) continue;
          if (placedPaths.some((p) => p.pair === `${key(e.from)}|${key(e.to)}` && p.bend === bend)) continue;
          const base = 12 * level + 25 * placedLabels.filter((l) => polylineHitsBox(points, l, extent)).length
            + 2 * placedPaths.reduce((n, p) => n + crossings(points, p.points, extent, p.extent), 0);
          if (!e.op) {
            if (!best || base < best.cost) best = { cost: base, ctrl, points, extent, bend, label: null };
            continue;
          }
          for (const t of T_CHOICES) {
            const [lx, ly] = bezier(ctrl, t);
            const box = { x: lx - w / 2, y: ly - labelH / 2, width: w, height: labelH };
            if (nodes.some((n) => overlaps(box, n, MARGIN)) || placedLabels.some((l) => overlaps(box, l, MARGIN))) continue;
            const cost = base + 40 * Math.abs(t - 0.5) + 25 * placedPaths.filter((p) => polylineHitsBox(p.points, box, p.extent)).length;
            if (!best || cost < best.cost) best = { cost, ctrl, points, extent, bend, label: { ...box, text, op: String(e.op), abbreviated: text !== String(e.op) } };
          }
        }
      }
    }
    if (!best) throw new Error(`no room for the edge ${e.from}→${e.to}`);
    if (best.label) placedLabels.push(best.label);
    placedPaths.push({ pair: `${key(e.from)}|${key(e.to)}`, bend: best.bend, points: best.points, extent: best.extent });
    routes[index] = best;
  }

  // arrowheads, then the bounding box of everything, shifted to start at the padding
  const edges = drawn.map((e, i) => {
    const r = routes[i];
    const [p2, p3] = [r.ctrl[2], r.ctrl[3]];
    let dx = p3[0] - p2[0], dy = p3[1] - p2[1];
    const len = Math.hypot(dx, dy) || 1;
    dx /= len; dy /= len;
    const arrow = [p3, [p3[0] - 8 * dx - 3.5 * dy, p3[1] - 8 * dy + 3.5 * dx], [p3[0] - 8 * dx + 3.5 * dy, p3[1] - 8 * dy - 3.5 * dx]];
    return { from: e.from, to: e.to, op: String(e.op || ""), diff: Boolean(e.diff), ctrl: r.ctrl, points: r.points, arrow, label: r.label,
      color: e.op ? opColor(e.op) : "#9aa3ad", stroke: e.op ? strokeColor(e.op) : "#9aa3ad" };
  });
  const xs = [], ys = [];
  const take = (box) => { xs.push(box.x, box.x + box.width); ys.push(box.y, box.y + box.height); };
  nodes.forEach(take);
  for (const e of edges) {
    for (const [x, y] of [...e.points, ...e.arrow]) { xs.push(x - 2, x + 2); ys.push(y - 2, y + 2); }
    if (e.label) take(e.label);
  }
  const pad = 14;
  const dx = pad - Math.min(...xs), dy = pad - Math.min(...ys);
  const move = (box) => Object.assign(box, { x: box.x + dx, y: box.y + dy });
  const movePoint = (p) => [p[0] + dx, p[1] + dy];
  for (const n of nodes) { move(n); n.cx += dx; n.cy += dy; }
  for (const e of edges) {
    e.ctrl = e.ctrl.map(movePoint);
    e.points = e.points.map(movePoint);
    e.arrow = e.arrow.map(movePoint);
    if (e.label) move(e.label);
    const f = (p) => `${p[0].toFixed(1)} ${p[1].toFixed(1)}`;
    e.path = `M ${f(e.ctrl[0])} C ${f(e.ctrl[1])}, ${f(e.ctrl[2])}, ${f(e.ctrl[3])}`;
    e.arrowPath = `M ${f(e.arrow[0])} L ${f(e.arrow[1])} L ${f(e.arrow[2])} Z`;
  }
  let width = Math.max(...xs) + dx + pad;
  const drawingBottom = Math.max(...ys) + dy;

  // the legend: the ops drawn, in name order, flowing in rows under the drawing
  const ops = [...new Set(edges.filter((e) => e.op).map((e) => e.op))].sort();
  const legendFont = compact ? 13 : 11;
  const items = ops.map((op) => {
    const text = compact && abbreviate(op) !== op ? `${abbreviate(op)} = ${op}` : op;
    return { op, text, color: opColor(op), width: 14 + 6 + textWidth(text, legendFont) + 4, height: 16 };
  });
  width = Math.max(width, ...items.map((it) => it.width + 2 * pad));
  let x = pad, y = drawingBottom + 14;
  for (const it of items) {
    if (x > pad && x + it.width > width - pad) { x = pad; y += 22; }
    Object.assign(it, { x, y });
    x += it.width + 16;
  }
  const legend = items.length
    ? { x: pad, y: drawingBottom + 14, width: width - 2 * pad, height: y + 16 - (drawingBottom + 14), font: legendFont, items }
    : { x: pad, y: drawingBottom, width: 0, height: 0, font: legendFont, items };
  const height = (items.length ? legend.y + legend.height : drawingBottom) + pad;
  return { width: Math.ceil(width), height: Math.ceil(height), font, compact, nodes, edges, labels: edges.filter((e) => e.label).map((e) => e.label), legend };
}
