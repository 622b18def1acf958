/* Each event of the run into the page's state (state.js): one case per event type. Nothing is drawn here. */
import * as benchmark from "../benchmark.js";
import * as selection from "../selection.js";
import { collapseCounts } from "./collapse.js";
import { logEvent } from "./log.js";
import { state } from "./state.js";

// events that change the curvature or collapse charts (a rollback also drops later epochs)
const ROBUST_EVENTS = new Set(["curvature", "early_stop", "regularization_change", "genotype"]);
// events that change the loss and accuracy curves, and the architecture section (heatmaps, cell, its figures)
const CURVE_EVENTS = new Set(["run_started", "step", "epoch", "eval_epoch", "expected_cost", "regularization_change"]);
const ARCH_EVENTS = new Set(["arch", "genotype", "regularization_change"]);

/* Replace the entry of ``ev``'s epoch in an epoch-ordered list. */
function putByEpoch(list, item) {
  const out = list.filter((x) => x.epoch !== item.epoch);
  out.push(item);
  return out.sort((a, b) => a.epoch - b.epoch);
}

/** Take one event into the state. */
export function handle(ev) {
  switch (ev.type) {
    case "run_started":
      if (!ev.resumed) state.steps = { x: [], loss: [], acc: [] };
      break;
    case "step": {
      const spe = ev.steps_per_epoch || 1;
      state.steps.x.push(ev.epoch - 1 + ev.step / spe);
      state.steps.loss.push(ev.train_loss);
      state.steps.acc.push(ev.train_acc);
      break;
    }
    case "epoch":
    case "eval_epoch":
      state.epochs = putByEpoch(state.epochs, ev);
      break;
    case "arch":
      state.arch = putByEpoch(state.arch, { epoch: ev.epoch, cells: ev.cells || {}, kind: ev.kind });
      break;
    case "genotype": {
      state.genotypes.set(ev.epoch, ev.genotype);
      const counts = collapseCounts(ev);
      if (counts) state.collapse.set(ev.epoch, counts);
      break;
    }
    case "expected_cost":
      state.costs = putByEpoch(state.costs, ev);
      break;
    case "curvature":
      state.curvature = putByEpoch(state.curvature, { epoch: ev.epoch, eigenvalue: ev.eigenvalue, trace: ev.trace,
                                                      round: ev.round || 0, ratio: ev.ratio });
      break;
    case "early_stop":
      state.earlyStop = ev;
      break;
    case "regularization_change":
      state.regChanges = state.regChanges.filter((c) => c.increase !== ev.increase);
      state.regChanges.push(ev);
      rollBack(ev.restored_epoch);
      break;
    case "selection":
      selection.handle(ev);
      break;
    default:
      break;
  }
  benchmark.handle(ev);
  if (ev.type !== "step" && ev.type !== "query") logEvent(ev); // queries: the regret plot, not the log
  if (ROBUST_EVENTS.has(ev.type)) state.robustDirty = true;
  if (CURVE_EVENTS.has(ev.type)) state.curvesDirty = true;
  if (ARCH_EVENTS.has(ev.type)) state.archDirty = true;
}

/* DARTS-ADA went back to ``epoch``: what came after it is replaced by what the run does next. */
function rollBack(epoch) {
  for (const p of state.curvature) if (p.epoch > epoch) state.discarded.push(p);
  state.curvature = state.curvature.filter((p) => p.epoch <= epoch);
  state.epochs = state.epochs.filter((e) => e.epoch <= epoch);
  state.arch = state.arch.filter((a) => a.epoch <= epoch);
  for (const map of [state.genotypes, state.collapse]) for (const e of [...map.keys()]) if (e > epoch) map.delete(e);
  const keep = state.steps.x.map((x) => x <= epoch);
  for (const key of ["x", "loss", "acc"]) state.steps[key] = state.steps[key].filter((_, i) => keep[i]);
}
