/* The skip connections and parameter-free ops of the cell picked at each epoch (DARTS's collapse symptom), with the
 * curvature chart's early-stop and DARTS-ADA markers. */
import { $ } from "../dom.js";
import { Plotly, plotConfig } from "../plotly.js";
import { eventLines, showPlot } from "./curvature.js";
import { state } from "./state.js";

export function drawCollapse() {
  if (!$("curve-collapse")) return;
  $("collapse-empty").hidden = state.collapse.size > 0;
  if (!state.collapse.size) return;
  const div = $("curve-collapse");
  showPlot(div);
  const epochs = [...state.collapse.keys()].sort((a, b) => a - b);
  const cells = [...new Set(epochs.flatMap((e) => Object.keys(state.collapse.get(e).skip)))];
  const colors = ["#1f4e79", "#e65100", "#2e7d32", "#7b1fa2"];
  const traces = [];
  cells.forEach((cell, i) => {
    const color = colors[i % colors.length];
    const get = (kind) => epochs.map((e) => { const v = state.collapse.get(e)[kind][cell]; return typeof v === "number" ? v : null; });
    traces.push({ x: epochs, y: get("skip"), name: `${cell}: skip connections`, type: "scatter", mode: "lines+markers",
                  line: { color, shape: "hv" } });
    traces.push({ x: epochs, y: get("free"), name: `${cell}: parameter-free ops`, type: "scatter", mode: "lines+markers",
                  line: { color, dash: "dash", shape: "hv" }, marker: { symbol: "square", size: 5 } });
  });
  const { shapes, annotations } = eventLines(false);
  Plotly.react(div, traces, {
    title: { text: "Skip connections and parameter-free ops in the picked cell" }, uirevision: "keep-collapse", height: 460,
    margin: { t: 60, r: 10, b: 40, l: 50 }, shapes, annotations,
    xaxis: { title: { text: "epoch" } }, yaxis: { title: { text: "ops in the cell" }, rangemode: "tozero", dtick: 1 },
    legend: { orientation: "h", y: -0.18 },
  }, plotConfig);
}
