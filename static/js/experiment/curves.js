/* The loss and accuracy curves (steps and epochs) and, with a cost table, the expected cost per epoch. */
import { $ } from "../dom.js";
import { Plotly, plotConfig } from "../plotly.js";
import { cfg, HELD_OUT } from "./config.js";
import { state } from "./state.js";

const line = (x, y, name, extra) => Object.assign({ x, y, name, type: "scatter", mode: "lines+markers" }, extra || {});
const base = (title, ytitle) => ({
  title: { text: title }, uirevision: "keep", margin: { t: 40, r: 10, b: 40, l: 50 }, height: 300,
  xaxis: { title: { text: "epoch" } }, yaxis: { title: { text: ytitle } }, legend: { orientation: "h", y: -0.25 },
});

export function drawCurves() {
  if (!state.steps.x.length && !state.epochs.length) return;
  $("curves-empty").hidden = true;
  const ex = state.epochs.map((e) => e.epoch);
  const thin = { mode: "lines", line: { width: 1 }, opacity: 0.45 };
  Plotly.react($("curve-loss"), [
    line(state.steps.x, state.steps.loss, "train loss (steps)", thin),
    line(ex, state.epochs.map((e) => e.train_loss), "train loss"),
    line(ex, state.epochs.map((e) => e[HELD_OUT + "_loss"]), HELD_OUT + " loss"),
  ], base("Loss", "loss"), plotConfig);
  Plotly.react($("curve-acc"), [
    line(state.steps.x, state.steps.acc, "train acc (steps)", thin),
    line(ex, state.epochs.map((e) => e.train_acc), "train acc"),
    line(ex, state.epochs.map((e) => e[HELD_OUT + "_acc"]), HELD_OUT + " acc"),
  ], base("Accuracy", "accuracy"), plotConfig);
  drawCost();
}

/* The expected latency (or FLOPs) of the distribution per epoch; the words come with the page (presenters/cost.py). */
function drawCost() {
  const words = cfg.costChart || {};
  if (!state.costs.length || !words.title) return;
  const div = $("curve-cost");
  div.hidden = false;
  const scale = words.scale || 1;
  const cx = state.costs.map((c) => c.epoch);
  Plotly.react(div, [
    line(cx, state.costs.map((c) => c.expected / scale), words.legend),
    line(cx, state.costs.map((c) => c.reference / scale), words.reference, { mode: "lines", line: { dash: "dot" } }),
  ], base(words.title, words.yTitle), plotConfig);
}
