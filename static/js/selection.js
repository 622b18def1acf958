/* The selection stage on the experiment page (nascore.selection): a progress bar while candidates are ranked with
 * the one-shot weights and the best are retrained from scratch, then a scatter plot of one-shot against stand-alone
 * validation accuracy of the retrained ones, the kept one highlighted, Kendall's tau and Spearman's rho in the
 * title.  the experiment page feeds it the run's `selection` events; a finished run's result block (page config) is
 * drawn when no `done` event has been read. */
import { $, pageConfig } from "./dom.js";
import { Plotly, plotConfig } from "./plotly.js";
import { fill } from "./words.js";

const cfg = pageConfig("page-config").selection || {};
const labels = cfg.labels || {}; // worded on the server (presenters/selection.py)

const state = {
  last: null, // the latest selection event
  done: null, // the `done` event, once the stage has finished
  points: new Map(), // candidate index -> candidate, for each one whose stand-alone training finished
  dirty: true,
  summary: null, // the server's line once the stage is done (null: as the page was served)
  title: cfg.title || "", // the plot's title once the stage is done, worded by the server too
};

function reset() {
  state.last = null;
  state.done = null;
  state.points = new Map();
  state.dirty = true;
  // the run rewound to a checkpoint: what was drawn of the stage is redrawn from the events read again
  const plot = $("selection-plot"), row = $("selection-progress-row");
  if (plot) plot.hidden = true;
  if (row) row.hidden = true;
}

function handle(ev) {
  if (ev.phase === "start") { state.points = new Map(); state.done = null; }
  state.last = ev;
  if (ev.phase === "retrain" && ev.epoch === ev.epochs && ev.candidate) state.points.set(ev.index, ev.candidate);
  if (ev.phase === "done") state.done = ev;
  state.dirty = true;
}

function finalBlock(pageBlock) {
  if (state.done) return state.done;
  return pageBlock && pageBlock.status === "finished" ? pageBlock : null;
}

/* The section's line as the server words it once the stage is done (presenters/live.py). */
function setSummary(text, title) {
  state.summary = text;
  if (typeof title === "string") state.title = title;
  state.dirty = true;
}

function drawPlot(retrained, chosenIndex, title) {
  const div = $("selection-plot");
  div.hidden = false;
  const label = (c) => `candidate ${c.index}${c.source === "derived" ? " (the search's own)" : ""}, one-shot rank ${c.oneshot_rank}`;
  const others = retrained.filter((c) => c.index !== chosenIndex);
  const chosen = retrained.filter((c) => c.index === chosenIndex);
  const traces = [{
    x: others.map((c) => c.oneshot_val_acc), y: others.map((c) => c.standalone_val_acc), text: others.map(label),
    type: "scatter", mode: "markers", name: "retrained", marker: { color: "#1f4e79", size: 10 },
    hovertemplate: "%{text}<br>one-shot %{x:.2%} · stand-alone %{y:.2%}<extra></extra>",
  }];
  if (chosen.length) {
    traces.push({
      x: chosen.map((c) => c.oneshot_val_acc), y: chosen.map((c) => c.standalone_val_acc), text: chosen.map(label),
      type: "scatter", mode: "markers", name: `kept: candidate ${chosenIndex}`,
      marker: { color: "#c62828", symbol: "star", size: 18, line: { color: "#5d0000", width: 1 } },
      hovertemplate: "%{text}<br>one-shot %{x:.2%} · stand-alone %{y:.2%}<extra>kept</extra>",
    });
  }
  Plotly.react(div, traces, {
    title: { text: title }, uirevision: "keep-selection", height: 420, margin: { t: 60, r: 10, b: 50, l: 70 },
    xaxis: { title: { text: labels.x }, tickformat: ".0%" },
    yaxis: { title: { text: labels.y }, tickformat: ".0%" },
    legend: { orientation: "h", y: -0.2 },
  }, plotConfig);
}

/* Redraw the section; ``pageBlock`` is the result's selection block from the page config (or null). */
function draw(pageBlock, shown) {
  const section = $("selection");
  if (!section || !state.dirty) return;
  state.dirty = false;
  const block = finalBlock(pageBlock);
  if (!block && !state.last && !shown) return;
  section.hidden = false;
  const row = $("selection-progress-row");
  if (state.last && !block) {
    const total = state.last.total || 0;
    row.hidden = false;
    $("selection-fill").style.width = (total ? (100 * state.last.done) / total : 0).toFixed(1) + "%";
    $("selection-bar").setAttribute("aria-valuenow", (total ? (100 * state.last.done) / total : 0).toFixed(1)); // role=progressbar
    $("selection-progress").textContent = state.last.text; // worded by the server (presenters/events.py)
  } else if (block) {
    row.hidden = true;
  }
  if (block) {
    $("selection-empty").hidden = true;
    if (state.summary !== null) $("selection-summary").textContent = state.summary;
    const retrained = (block.candidates || []).filter((c) => c.retrained);
    drawPlot(retrained, block.chosen, state.title);
  } else if (state.points.size) {
    $("selection-empty").hidden = true;
    const last = state.last || {};
    drawPlot([...state.points.values()], null, fill(labels.progress_title || "", { done: state.points.size, top_k: last.top_k }));
  }
}

export { state, reset, handle, draw, setSummary };
