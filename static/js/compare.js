/* The comparison page: overlaid curves (epoch or wall-clock axis; seed groups as mean ± std bands), the regret curves
 * of black-box searches (regret.js, as on the experiment page), the sortable table, the discovered cells with
 * differing edges highlighted (cellgraph.js), the final heatmaps side by side.
 * Everything comes from the page's JSON (compare-config); the figures are computed on the server. */
import * as cellgraph from "./cellgraph.js";
import { $, pageConfig, plain } from "./dom.js";
import { Plotly, plotConfig } from "./plotly.js";
import * as regretCurves from "./regret.js";
import { exposeForTests } from "./testhook.js";

const cfg = pageConfig("compare-config");
const state = { axis: "epoch", grouped: true, drawn: 0, regretAxis: cfg.regret ? cfg.regret.axis : null, regretDrawn: 0 };
exposeForTests(state);

/* Traces of one metric: per group a mean line with a ±std band where std exists, or one line per run. */
function traces(metric) {
  const curves = cfg.curves[metric];
  const out = [];
  const xOf = (c) => (state.axis === "wall" ? c.wall : c.epoch);
  if (state.grouped) {
    cfg.groups.forEach((g, gi) => {
      const c = curves.groups[gi];
      if (!c) return;
      const x = xOf(c);
      const hasBand = c.std.some((s) => typeof s === "number");
      if (hasBand) {
        // the band: upper edge, then the lower edge filled up to it (points without std collapse to the mean)
        const upper = c.mean.map((m, i) => (typeof c.std[i] === "number" ? m + c.std[i] : m));
        const lower = c.mean.map((m, i) => (typeof c.std[i] === "number" ? m - c.std[i] : m));
        out.push({ x, y: upper, type: "scatter", mode: "lines", line: { width: 0, color: g.color }, hoverinfo: "skip",
                   showlegend: false, legendgroup: "g" + gi });
        out.push({ x, y: lower, type: "scatter", mode: "lines", line: { width: 0, color: g.color }, fill: "tonexty",
                   fillcolor: regretCurves.rgba(g.color, 0.18), hoverinfo: "skip", showlegend: false, legendgroup: "g" + gi });
      }
      out.push({
        x, y: c.mean, name: plain(g.ids.length > 1 ? `${g.label} mean` : g.label), type: "scatter", mode: "lines+markers",
        line: { color: g.color }, legendgroup: "g" + gi,
        customdata: c.std.map((s, i) => [typeof s === "number" ? s : null, c.n[i], c.epoch[i]]),
        hovertemplate: "epoch %{customdata[2]}: %{y:.4f}" + (hasBand ? " ± %{customdata[0]:.4f} (n = %{customdata[1]})" : "") +
          "<extra>%{fullData.name}</extra>",
      });
    });
  } else {
    cfg.runs.forEach((r, ri) => {
      const c = curves.runs[ri];
      if (!c) return;
      const dashes = ["solid", "dash", "dot", "dashdot", "longdash"];
      const member = cfg.groups[r.group].ids.indexOf(r.id);
      out.push({ x: xOf(c), y: c.mean, name: plain(`#${r.id} ${r.name} (seed ${r.seed})`), type: "scatter", mode: "lines+markers",
                 line: { color: r.color, dash: dashes[member % dashes.length] }, customdata: c.epoch,
                 hovertemplate: "epoch %{customdata}: %{y:.4f}<extra>%{fullData.name}</extra>" });
    });
  }
  return out;
}

function drawCurves() {
  for (const [metric, curves] of Object.entries(cfg.curves)) {
    const div = $("curve-" + metric);
    if (!div) continue;
    const data = traces(metric);
    if (!data.length) { div.hidden = true; continue; }
    div.hidden = false;
    Plotly.react(div, data, {
      title: { text: curves.title }, height: 340, margin: { t: 40, r: 10, b: 40, l: 60 },
      uirevision: state.axis + (state.grouped ? "-g" : "-r"),
      xaxis: { title: { text: state.axis === "wall" ? "wall-clock (compute seconds)" : "epoch" } },
      yaxis: { title: { text: curves.axis } }, legend: { orientation: "h", y: -0.22 },
    }, plotConfig);
  }
  state.drawn += 1;
}

// ---- regret curves of black-box searches: one colour per experiment, mean ± std over its seeded runs ------
function drawRegret() {
  const regret = cfg.regret; // the server's figures
  if (!regret) return;
  const unit = state.regretAxis;
  const plots = { valid: [], test: [] };
  let x = [];
  for (const item of regret.experiments) {
    const s = regretCurves.series(item.runs, unit);
    if (!s.x.length) continue;
    x = x.concat([s.x[0], s.x[s.x.length - 1]]);
    const n = item.runs.length;
    const name = plain(`#${item.id} ${item.name} · ${item.method} (${n} run${n > 1 ? "s" : ""})`);
    const opts = { dash: item.dash, legendgroup: "e" + item.id };
    plots.valid.push(...regretCurves.band(s.x, s.valid, name, item.color, opts));
    if (s.test.mean.some((v) => typeof v === "number")) plots.test.push(...regretCurves.band(s.x, s.test, name, item.color, opts));
  }
  if (regret.optimum && x.length) {
    const span = [Math.min(...x), Math.max(...x)];
    plots.valid.push(regretCurves.level(span, regret.optimum.valid_acc, `table optimum (validation ${regret.optimum.valid_acc.toFixed(2)}%)`));
    plots.test.push(regretCurves.level(span, regret.optimum.test_acc, `test accuracy of the table's best-validation cell (${regret.optimum.test_acc.toFixed(2)}%)`));
  }
  const titles = { valid: "Best validation accuracy so far", test: "Test accuracy of that cell" };
  for (const key of ["valid", "test"]) {
    const div = $("regret-" + key);
    if (!plots[key].length) { div.hidden = true; continue; }
    div.hidden = false;
    Plotly.react(div, plots[key], {
      title: { text: titles[key] }, height: 360, margin: { t: 40, r: 10, b: 40, l: 55 }, uirevision: unit,
      xaxis: { title: { text: regretCurves.axisTitle(unit) } }, yaxis: { title: { text: "accuracy (%)" } },
      legend: { orientation: "h", y: -0.25 },
    }, plotConfig);
  }
  state.regretDrawn += 1;
}

// ---- table: sort by a column on click (numbers numerically, missing values last) -------------------------
function sortTable(th) {
  const table = $("compare-table");
  const col = Number(th.dataset.col);
  const numeric = th.dataset.sort === "num";
  const asc = th.dataset.dir ? th.dataset.dir !== "asc" : numeric ? th.dataset.higher === "0" : true;
  for (const other of table.querySelectorAll("th[data-col]")) { delete other.dataset.dir; other.removeAttribute("aria-sort"); }
  th.dataset.dir = asc ? "asc" : "desc";
  th.setAttribute("aria-sort", asc ? "ascending" : "descending");
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const value = (row) => {
    const raw = row.cells[col].dataset.value;
    if (!numeric) return raw || "";
    return raw === undefined || raw === "" ? null : Number(raw);
  };
  rows.sort((a, b) => {
    const va = value(a), vb = value(b);
    if (va === null && vb === null) return 0;
    if (va === null) return 1;
    if (vb === null) return -1;
    const d = numeric ? va - vb : String(va).localeCompare(String(vb));
    return asc ? d : -d;
  });
  for (const row of rows) body.appendChild(row);
}
for (const th of document.querySelectorAll("#compare-table th[data-col]")) {
  th.tabIndex = 0;
  th.addEventListener("click", () => sortTable(th));
  th.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); sortTable(th); } });
}

// ---- cells: drawn by cellgraph.js, differing edges flagged ------------------------------------------------
function drawCells() {
  for (const cell of cfg.cells) {
    const slot = document.querySelector(`.cell-slot[data-run="${cell.id}"]`);
    if (!slot || cell.genotype === null) continue;
    for (const cellType of Object.keys(cell.edges)) {
      const box = document.createElement("div");
      box.className = "cell";
      box.id = `cell-${cell.id}-${cellType}`;
      slot.appendChild(box);
      const graph = cellgraph.fromGenotype(cell.genotype, cellType, (cell.shapes || {})[cellType]);
      if (!graph) continue;
      // the server's differing (from, to, op) edges, as a multiset: flag that many matching edges of the drawing
      const left = new Map();
      for (const [from, to, op] of cell.differing[cellType] || []) {
        const key = `${from}|${to}|${op}`;
        left.set(key, (left.get(key) || 0) + 1);
      }
      for (const e of graph.edges) {
        const key = `${e.from}|${e.to}|${e.op}`;
        if (left.get(key) > 0) { e.diff = true; left.set(key, left.get(key) - 1); }
      }
      cellgraph.render(box, graph, `#${cell.id} ${cellType} cell`);
    }
  }
}

function drawHeatmaps() {
  for (const item of cfg.alphas) {
    const slot = document.querySelector(`.heatmap-slot[data-run="${item.id}"]`);
    if (!slot) continue;
    for (const [cellType, cell] of Object.entries(item.cells)) {
      const div = document.createElement("div");
      div.className = "plot heatmap";
      div.id = `heatmap-${item.id}-${cellType}`;
      slot.appendChild(div);
      Plotly.newPlot(div, [{
        type: "heatmap", z: cell.weights, x: cell.ops, y: cell.edges, colorscale: "Viridis", zmin: 0, zmax: 1,
        hovertemplate: "%{y} · %{x}: %{z:.3f}<extra></extra>",
      }], {
        title: { text: `${cellType} cell` }, height: Math.max(240, 70 + 20 * cell.edges.length),
        margin: { t: 36, r: 10, b: 90, l: 60 }, yaxis: { autorange: "reversed", type: "category" },
        xaxis: { type: "category", tickangle: -35 },
      }, plotConfig);
    }
  }
}

$("x-axis").addEventListener("change", (ev) => { state.axis = ev.target.value; drawCurves(); });
const groupBox = $("group-seeds");
if (groupBox) groupBox.addEventListener("change", (ev) => { state.grouped = ev.target.checked; drawCurves(); });
const copy = $("copy-permalink");
copy.addEventListener("click", () => {
  const input = $("permalink");
  input.select();
  if (navigator.clipboard) navigator.clipboard.writeText(input.value).then(() => { copy.textContent = "Copied"; }, () => {});
});

const regretAxis = $("regret-axis");
if (regretAxis) regretAxis.addEventListener("change", (ev) => { state.regretAxis = ev.target.value; drawRegret(); });

drawCurves();
drawRegret();
drawCells();
drawHeatmaps();
