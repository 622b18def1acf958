/* The architecture heatmaps of one epoch, one per cell type, in the mode the switch above them picks: the
 * distribution's weights, the raw alphas, or the change from uniform on a colour scale centred on 0. Each edge's
 * strongest op is starred and in bold, its rank on the edge is in the hover, and each row has as many decimals as
 * its values need to read differently. The mode is kept across redraws and in localStorage. */
import { $, childDiv } from "../dom.js";
import { Plotly, plotConfig } from "../plotly.js";
import { kindLabel } from "./config.js";
import { formatRows, hasMode, MODES, modeValues, ranks, symmetricBound, topOps } from "./heatvalues.js";

const STORAGE_KEY = "nasboard:heatmap-mode";
const DIVERGING = [[0, "#2166ac"], [0.5, "#f7f7f7"], [1, "#b2182b"]]; // blue loses, white 1/n, red gains
const HELP = {
  weights: "Each row is one edge's distribution over its ops; the star marks the edge's strongest op.",
  alphas: "The architecture parameters the weights are the softmax of: their differences, not their sizes, decide.",
  change: "Weight minus 1/n (n: the edge's candidate ops): red ops gain on the uniform start, blue ones lose.",
};

let wanted = readStored(); // the user's choice; shown when the epoch's events allow it

function readStored() {
  try {
    const mode = window.localStorage.getItem(STORAGE_KEY);
    return MODES.includes(mode) ? mode : "weights";
  } catch (err) {
    return "weights"; // storage refused (privacy settings): the choice lasts as long as the page
  }
}

function store(mode) {
  try { window.localStorage.setItem(STORAGE_KEY, mode); } catch (err) { /* kept for this page only */ }
}

const modeTitle = (mode, kind) => (mode === "alphas" ? "raw alphas" : mode === "change" ? "change from uniform (1/n)"
  : kindLabel(kind));

/* The radio buttons: the weights' own words, raw alphas offered only where the epoch's events carry them. */
function syncSwitch(snap, shown, alphasHere) {
  const box = $("heat-modes");
  if (!box) return;
  box.hidden = false;
  $("heat-mode-weights").textContent = kindLabel(snap.kind);
  const alphas = box.querySelector('input[value="alphas"]');
  alphas.disabled = !alphasHere;
  alphas.closest("label").title = alphasHere ? "" : ["frequency", "policy"].includes(snap.kind)
    ? `This method has no architecture parameters: its heatmap shows ${kindLabel(snap.kind)}.`
    : "This run's events were recorded without the raw alphas.";
  for (const input of box.querySelectorAll('input[name="heat-mode"]')) input.checked = input.value === shown;
  $("heat-mode-help").textContent = HELP[shown];
}

/* One cell type's heatmap trace and layout in ``mode``. */
function figure(cellType, cell, mode, snap) {
  const z = modeValues(cell, mode);
  const text = formatRows(z);
  const rank = ranks(cell);
  const tops = topOps(cell);
  const n = (i) => rank[i].filter((r) => r !== null).length;
  const label = text.map((row, i) => row.map((t, j) => (tops[i].includes(j) ? `<b>★ ${t}</b>` : t)));
  const customdata = text.map((row, i) => row.map((t, j) => (rank[i][j] === null ? ["no such op on this edge", "–", n(i)]
    : [t, rank[i][j], n(i)])));
  const trace = {
    type: "heatmap", z, x: cell.ops, y: cell.edges, text: label, texttemplate: "%{text}", customdata,
    name: modeTitle(mode, snap.kind), colorbar: { title: { text: mode === "change" ? "w − 1/n" : mode === "alphas" ? "α" : "w" } },
    hovertemplate: "%{y} · %{x}: %{customdata[0]}<br>rank %{customdata[1]} of %{customdata[2]} on this edge<extra></extra>",
  };
  if (mode === "change") {
    const bound = symmetricBound(z);
    Object.assign(trace, { colorscale: DIVERGING, zmid: 0, zmin: -bound, zmax: bound });
  } else {
    trace.colorscale = "Viridis";
  }
  const layout = {
    title: { text: `${cellType} cell: ${modeTitle(mode, snap.kind)}, epoch ${snap.epoch}` }, uirevision: "keep-" + cellType,
    margin: { t: 40, r: 10, b: 90, l: 60 }, height: Math.max(260, 60 + 24 * cell.edges.length),
    yaxis: { autorange: "reversed", type: "category", title: { text: "edge" } }, xaxis: { type: "category", tickangle: -35 },
  };
  return [trace, layout];
}

/** Draw the heatmaps of the snapshot ``snap`` ({epoch, kind, cells}) in the chosen mode. */
export function drawHeatmaps(snap) {
  const cells = Object.values(snap.cells);
  const alphasHere = cells.length > 0 && cells.every((cell) => hasMode(cell, "alphas"));
  const shown = wanted === "alphas" && !alphasHere ? "weights" : wanted;
  syncSwitch(snap, shown, alphasHere);
  const box = $("heatmaps");
  for (const [cellType, cell] of Object.entries(snap.cells)) {
    const [trace, layout] = figure(cellType, cell, shown, snap);
    Plotly.react(childDiv(box, "heatmap-" + cellType, "plot heatmap"), [trace], layout, plotConfig);
  }
}

/** Call ``redraw`` when the user picks a mode (after remembering it). */
export function onModeChange(redraw) {
  const box = $("heat-modes");
  if (!box) return;
  box.addEventListener("change", (ev) => {
    if (ev.target.name !== "heat-mode" || !MODES.includes(ev.target.value)) return;
    wanted = ev.target.value;
    store(wanted);
    redraw();
  });
}
