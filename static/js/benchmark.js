/* NAS-Bench-201 on the experiment page.
 *
 * - Black-box searches (query events): the best validation accuracy so far and the test accuracy of that cell
 *   against the budget (queries, or simulated training seconds for a table run with budget_unit "seconds"), mean ±
 *   standard deviation over the seeded runs (the regret plot, computed and drawn by regret.js, which the comparison
 *   page shares), with the table's optimum where a table is imported.
 * - nb201 searches, where the server has an imported table (page config `benchmark`): the benchmark accuracy of
 *   the cell picked at each epoch beside the search's own validation accuracy, the figures of the cell shown under
 *   "Cell it would pick" and of the result's cell.  Figures come from /api/benchmark/<space>, fetched once per cell.
 *
 * The experiment page (experiment/events.js) feeds it every event (handle), resets it when the run rewinds, and calls draw after each poll. */
import { $, pageConfig } from "./dom.js";
import { Plotly, plotConfig } from "./plotly.js";
import * as regret from "./regret.js";
import { fill } from "./words.js";

const cfg = pageConfig("page-config");
const bench = cfg.benchmark || null; // null: not an nb201 search, or no table imported on this server
const MAX_LOOKUP = 200; // the lookup endpoint's limit per request
const labels = (bench && bench.labels) || {}; // worded on the server (presenters/benchmark.py)
const regretLabels = cfg.regretLabels || {}; // presenters/regret.py

const state = {
  runs: new Map(), // seeded run -> compact run (regret.js: seed, queries, seconds, steps where the best changed)
  figures: new Map(), // cell string -> figures from the table (or null: not a cell)
  pending: new Set(), // cells to look up
  inflight: false,
  tableRun: (cfg.experiment.config || {}).evaluator === "table",
  unit: (cfg.experiment.config || {}).budget_unit === "seconds" ? "seconds" : "queries",
  resultArch: null,
  shownArch: null, // the cell under "Cell it would pick" (the experiment page says which)
  dirty: true,
  lastMain: null,
  title: "", // the regret plot's title and line, worded on the server with each page of query events
  summary: "",
};

function reset() {
  state.runs = new Map();
  state.dirty = true;
}

/* The regret plot's title and line as the server words them (presenters/regret.py via the events answer). */
function setLines(data) {
  if (typeof data.blackbox_title === "string") state.title = data.blackbox_title;
  if (typeof data.blackbox_summary === "string") state.summary = data.blackbox_summary;
  state.dirty = true;
}

function want(arch) {
  if (bench && typeof arch === "string" && !state.figures.has(arch)) state.pending.add(arch);
}

function handle(ev) {
  switch (ev.type) {
    case "query":
      regret.record(state.runs, ev);
      state.dirty = true;
      break;
    case "genotype": // the experiment page keeps the epochs' cells (and drops those a DARTS-ADA roll-back undid)
      want(ev.genotype);
      state.dirty = true;
      break;
    case "regularization_change":
      state.dirty = true;
      break;
    default:
      break;
  }
}

// ---- lookups ------------------------------------------------------------------------------------------
async function lookup() {
  if (!bench || state.inflight || !state.pending.size) return;
  const archs = Array.from(state.pending).slice(0, MAX_LOOKUP);
  const url = bench.url + archs.map((a) => "&arch=" + encodeURIComponent(a)).join("");
  state.inflight = true;
  try {
    const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!r.ok) return;
    const data = await r.json();
    for (const a of archs) {
      state.figures.set(a, (data.archs || {})[a] || null);
      state.pending.delete(a);
    }
    state.dirty = true;
  } catch (err) {
    return; // the next poll asks again
  } finally {
    state.inflight = false;
  }
  draw(state.lastMain);
}

// ---- the regret plot (regret.js) -------------------------------------------------------------------------
function drawRegret() {
  const runs = Array.from(state.runs.values());
  if (!runs.length) return;
  $("blackbox").hidden = false;
  const unit = state.unit === "seconds" && regret.hasSeconds(runs) ? "seconds" : "queries";
  const s = regret.series(runs, unit);
  if (!s.x.length) return;
  const traces = regret.band(s.x, s.valid, regretLabels.valid, "rgb(31, 119, 180)");
  const hasTest = s.test.mean.some((v) => typeof v === "number");
  if (hasTest) traces.push(...regret.band(s.x, s.test, regretLabels.test, "rgb(214, 39, 40)"));
  if (bench && state.tableRun) traces.push(regret.level(s.x, bench.optimum.valid_acc, labels.optimum));
  Plotly.react($("regret-plot"), traces, {
    title: { text: state.title }, uirevision: "keep", height: 340,
    margin: { t: 40, r: 10, b: 40, l: 55 }, xaxis: { title: { text: regret.axisTitle(unit) } },
    yaxis: { title: { text: "accuracy (%)" } }, legend: { orientation: "h", y: -0.25 },
  }, plotConfig);
  $("blackbox-summary").textContent = state.summary;
}

// ---- the benchmark accuracy of the picked cell -----------------------------------------------------------
function drawPicked(main) {
  const genotypes = (main && main.genotypes) || new Map();
  if (!bench || state.tableRun || !genotypes.size) return;
  const epochs = Array.from(genotypes.keys()).sort((a, b) => a - b);
  const fig = (e) => state.figures.get(genotypes.get(e));
  const known = epochs.filter((e) => fig(e));
  if (!known.length) return;
  $("benchmark-card").hidden = false;
  const searchEpochs = (main && main.epochs) || [];
  const span = [epochs[0], epochs[epochs.length - 1]];
  Plotly.react($("benchmark-plot"), [
    { x: known, y: known.map((e) => fig(e).valid_acc), type: "scatter", mode: "lines+markers",
      name: labels.picked_valid, line: { color: "rgb(31, 119, 180)" } },
    { x: known, y: known.map((e) => fig(e).test_acc), type: "scatter", mode: "lines+markers",
      name: labels.picked_test, line: { color: "rgb(214, 39, 40)" } },
    { x: searchEpochs.map((e) => e.epoch), y: searchEpochs.map((e) => (typeof e.val_acc === "number" ? 100 * e.val_acc : null)),
      type: "scatter", mode: "lines+markers", name: labels.search_valid,
      line: { color: "rgb(44, 160, 44)", dash: "dot" } },
    regret.level(span, bench.optimum.valid_acc, labels.optimum, "dash"),
    regret.level(span, bench.all_skip.valid_acc, labels.all_skip, "dot"),
  ], {
    title: { text: labels.picked_title }, uirevision: "keep", height: 340,
    margin: { t: 40, r: 10, b: 40, l: 55 }, xaxis: { title: { text: "epoch" } },
    yaxis: { title: { text: "accuracy (%)" }, range: [0, 100] }, legend: { orientation: "h", y: -0.25 },
  }, plotConfig);
  const epoch = known[known.length - 1];
  $("benchmark-summary").textContent = fill(labels.picked_summary, { epoch, figures: fig(epoch).text });
}

/* Under "Cell it would pick": the benchmark figures of the cell the slider shows. */
function drawCellFigures() {
  if (!bench || !$("cells")) return;
  const f = typeof state.shownArch === "string" ? state.figures.get(state.shownArch) : null;
  let p = $("cell-benchmark");
  if (!p) {
    p = document.createElement("p");
    p.id = "cell-benchmark";
    p.className = "meta";
    $("cells").insertAdjacentElement("afterend", p);
  }
  p.hidden = !f;
  if (f) p.textContent = fill(labels.shown_cell, { figures: f.text });
}

function drawResult() {
  const f = state.resultArch ? state.figures.get(state.resultArch) : null;
  if (!f || !$("result-benchmark")) return;
  $("result-benchmark-dataset").textContent = f.dataset;
  $("result-benchmark").textContent = f.text;
  $("result-benchmark-row").hidden = false;
}

function showResult(genotype) {
  if (typeof genotype !== "string") return;
  state.resultArch = genotype;
  want(genotype);
  drawResult();
  lookup();
}

function draw(main) {
  state.lastMain = main || state.lastMain;
  if (state.dirty) {
    drawRegret();
    drawPicked(state.lastMain);
    state.dirty = false;
  }
  drawCellFigures();
  drawResult();
  lookup();
}

/* The experiment page shows the cell of the slider's epoch: remember it, fetch its figures, show them. */
function showCell(arch) {
  state.shownArch = arch;
  want(arch);
  drawCellFigures();
}

export { handle, reset, draw, setLines, showResult, showCell, state };
