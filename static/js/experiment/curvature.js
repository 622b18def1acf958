/* RobustDARTS on the experiment page: the dominant Hessian eigenvalue per epoch (and the trace), DARTS-ES's
 * earlier/later ratio against its threshold with the window, trigger and returned epoch, DARTS-ADA's changes. */
import { $ } from "../dom.js";
import { Plotly, plotConfig } from "../plotly.js";
import { runConfig } from "./config.js";
import { state } from "./state.js";

const fmtNum = (v, d) => (typeof v === "number" ? v.toFixed(d) : "–");

function esSettings() {
  const es = state.earlyStop;
  const num = (v, d) => (typeof v === "number" && isFinite(v) ? v : d);
  return {
    mode: runConfig.early_stop || "none",
    window: Math.max(1, Math.round(num(es && es.window, num(runConfig.early_stop_window, 5)))),
    threshold: num(es && es.threshold, num(runConfig.early_stop_threshold, 0.75)),
    every: Math.max(1, Math.round(num(runConfig.curvature_every, 1))),
  };
}

/* earlier/later at each point, as the engine read it (the curvature event carries the ratio; None until a round
 * of DARTS-ADA has 2k points). */
function ratioSeries() {
  const out = { x: [], y: [] };
  for (const p of state.curvature) {
    if (typeof p.ratio === "number" && isFinite(p.ratio)) { out.x.push(p.epoch); out.y.push(p.ratio); }
  }
  return out;
}

/** Vertical markers shared by the eigenvalue and the collapse charts: early stop and DARTS-ADA changes. */
export function eventLines(withLabels) {
  const shapes = [], annotations = [];
  const vline = (x, color, dash) => ({ type: "line", xref: "x", yref: "paper", x0: x, x1: x, y0: 0, y1: 1,
                                        line: { color, width: 1.5, dash } });
  for (const c of state.regChanges) {
    shapes.push(vline(c.trigger_epoch, "#e65100", "dash"));
    if (withLabels) {
      annotations.push({ x: c.trigger_epoch, y: 1, xref: "x", yref: "paper", yanchor: "bottom", showarrow: false,
        font: { size: 10, color: "#e65100" }, hovertext: c.reason || "",
        text: `ADA ${c.increase}: ${c.parameter === "weight_decay" ? "wd" : c.parameter} ${+Number(c.old).toPrecision(3)}→${+Number(c.new).toPrecision(3)}, back to ${c.restored_epoch}` });
    }
  }
  const es = state.earlyStop;
  if (es) {
    shapes.push(vline(es.trigger_epoch, "#c62828", "dot"));
    shapes.push(vline(es.returned_epoch, "#2e7d32", "dot"));
    const label = (x, text, color, anchor) => annotations.push({ x, y: 1, xref: "x", yref: "paper", yanchor: "bottom",
      xanchor: anchor, showarrow: false, text, font: { size: 10, color } });
    label(es.trigger_epoch, "stopped", "#c62828", "left");
    label(es.returned_epoch, "returned", "#2e7d32", "right");
  }
  return { shapes, annotations };
}

/* Unhide a plot; the plots beside it in the grid get narrower, so they are resized to fit. */
export function showPlot(div) {
  if (!div.hidden) return;
  div.hidden = false;
  for (const other of div.parentNode.children) {
    if (other !== div && !other.hidden && other.data) Plotly.Plots.resize(other);
  }
}

export function drawCurvature() {
  if (!$("curvature")) return; // a retrain has no architecture weights to measure
  const es = esSettings();
  const ratio = ratioSeries();
  const list = $("reg-changes");
  list.hidden = !state.regChanges.length;
  if (list.children.length !== state.regChanges.length) {
    list.textContent = "";
    for (const c of state.regChanges) {
      const li = document.createElement("li");
      li.textContent = c.reason || `DARTS-ADA: ${c.parameter} ${c.old} → ${c.new}, back to epoch ${c.restored_epoch}`;
      list.appendChild(li);
    }
  }
  const hasPoints = state.curvature.length || state.discarded.length;
  $("curvature-empty").hidden = Boolean(hasPoints);
  if (!hasPoints) return;
  if (state.curvatureText !== null) $("curvature-summary").textContent = state.curvatureText; // the server's words
  const div = $("curve-eigen");
  showPlot(div);
  const x = state.curvature.map((p) => p.epoch);
  const eig = state.curvature.map((p) => p.eigenvalue);
  const at = (epoch) => { const p = state.curvature.find((q) => q.epoch === epoch); return p ? p.eigenvalue : null; };
  const traces = [{ x, y: eig, name: "dominant eigenvalue", type: "scatter", mode: "lines+markers", line: { color: "#1f4e79" } }];
  if (state.curvature.some((p) => typeof p.trace === "number")) {
    traces.push({ x, y: state.curvature.map((p) => p.trace), name: "trace (Hutchinson, right axis)", type: "scatter",
                  mode: "lines+markers", yaxis: "y2", line: { color: "#7b1fa2", dash: "dot", width: 1.5 }, marker: { size: 4 } });
  }
  if (state.discarded.length) {
    traces.push({ x: state.discarded.map((p) => p.epoch), y: state.discarded.map((p) => p.eigenvalue), type: "scatter",
                  mode: "markers", name: "rolled back (DARTS-ADA)", marker: { color: "#9e9e9e", symbol: "circle-open", size: 8 } });
  }
  traces.push({ x: ratio.x, y: ratio.y, name: "earlier / later", type: "scatter", mode: "lines+markers", yaxis: "y3",
                line: { color: "#00897b" }, marker: { size: 5 } });
  const { shapes, annotations } = eventLines(true);
  // the threshold on the ratio panel
  shapes.push({ type: "line", xref: "paper", yref: "y3", x0: 0, x1: 1, y0: es.threshold, y1: es.threshold,
                line: { color: "#c62828", width: 1.5, dash: "dash" } });
  annotations.push({ xref: "paper", yref: "y3", x: 1, y: es.threshold, xanchor: "right", yanchor: "bottom", showarrow: false,
                     text: `threshold ${es.threshold}`, font: { size: 10, color: "#c62828" } });
  const stop = state.earlyStop;
  if (stop) {
    // shade the last k points at the trigger and the k before them
    const round = (state.curvature.find((p) => p.epoch === stop.trigger_epoch) || { round: 0 }).round;
    const pts = state.curvature.filter((p) => p.round === round && p.epoch <= stop.trigger_epoch);
    const k = es.window, n = pts.length, half = es.every / 2;
    const band = (from, to, color, label) => {
      if (from < 0 || to < from) return;
      shapes.push({ type: "rect", xref: "x", yref: "paper", x0: pts[from].epoch - half, x1: pts[to].epoch + half, y0: 0, y1: 1,
                    fillcolor: color, opacity: 0.14, line: { width: 0 }, layer: "below" });
      annotations.push({ xref: "x", yref: "paper", x: (pts[from].epoch + pts[to].epoch) / 2, y: 0.99, yanchor: "top",
                         showarrow: false, text: label, font: { size: 10, color: "#444" } });
    };
    if (n >= 2 * k) {
      band(n - 2 * k, n - k - 1, "#1565c0", `earlier ${k}: mean ${fmtNum(stop.earlier, 3)}`);
      band(n - k, n - 1, "#c62828", `last ${k}: mean ${fmtNum(stop.later, 3)}`);
    }
    traces.push({ x: [stop.trigger_epoch], y: [at(stop.trigger_epoch)], type: "scatter", mode: "markers",
                  name: `trigger (epoch ${stop.trigger_epoch}, ratio ${fmtNum(stop.ratio, 3)})`,
                  marker: { color: "#c62828", symbol: "x", size: 13, line: { width: 2 } } });
    traces.push({ x: [stop.returned_epoch], y: [at(stop.returned_epoch)], type: "scatter", mode: "markers",
                  name: `returned architecture (epoch ${stop.returned_epoch})`,
                  marker: { color: "#2e7d32", symbol: "star", size: 15 } });
    traces.push({ x: [stop.trigger_epoch], y: [stop.ratio], type: "scatter", mode: "markers", yaxis: "y3", showlegend: false,
                  name: "ratio at the trigger", marker: { color: "#c62828", symbol: "x", size: 10 } });
  }
  Plotly.react(div, traces, {
    title: { text: "Dominant Hessian eigenvalue" }, uirevision: "keep-curvature", height: 460,
    margin: { t: 60, r: 60, b: 40, l: 60 }, shapes, annotations,
    xaxis: { title: { text: "epoch" }, anchor: "y3" },
    yaxis: { title: { text: "eigenvalue" }, domain: [0.4, 1] },
    yaxis2: { title: { text: "trace" }, overlaying: "y", side: "right", showgrid: false },
    yaxis3: { title: { text: "earlier/later" }, domain: [0, 0.28], rangemode: "tozero" },
    legend: { orientation: "h", y: -0.18 },
  }, plotConfig);
}
