/* What the experiment page has read of the run's events, and the counters the tests and bench_events read
 * (exposed through testhook.js as window.nasboard). Events go in through events.js; charts read it. */
import { exposeForTests } from "../testhook.js";
import { cfg } from "./config.js";

export const state = {
  lastSeq: 0,
  status: cfg.experiment.status,
  steps: { x: [], loss: [], acc: [] },
  epochs: [], // epoch events in order, one per epoch (a replay overwrites)
  arch: [], // [{epoch, cells, kind}] in epoch order
  genotypes: new Map(), // epoch -> genotype
  follow: true, // the slider follows the newest epoch until the user moves it
  loaded: false, // the backlog has been read; later events count as live
  latencies: [], // seconds from the worker emitting an event to it being on screen
  polls: 0,
  streams: 0, // event streams opened (eventstream.js); polls go on only when none can be had
  streamFailures: 0,
  stopped: false,
  historyRev: null,
  curvature: [], // the current trajectory: one point per epoch {epoch, eigenvalue, trace, round}, in epoch order
  discarded: [], // DARTS-ADA: points of epochs it rolled back
  earlyStop: null, // the early_stop event, once DARTS-ES has stopped the search
  regChanges: [], // DARTS-ADA's regularization_change events, in order
  collapse: new Map(), // epoch -> {skip: {cell: n}, free: {cell: n}} of the cell picked at that epoch
  robustDirty: true, // the curvature and collapse charts need a redraw
  curvesDirty: true, // the loss and accuracy curves need a redraw
  archDirty: true, // the architecture section needs a redraw
  curvatureText: null, // the curvature section's line from the server's latest answer (null: as the page was served)
  costs: [], // expected_cost events (ProxylessNAS's hardware-aware term), one per epoch, in epoch order
  undrawn: false, // events were applied that are not drawn yet
  historyDrawnMs: null, // when (performance.now()) the backlog was first on screen
};
exposeForTests(state);

/** Forget what was read (the run rewound to a checkpoint): it is read again from the start. */
export function resetState() {
  Object.assign(state, {
    lastSeq: 0, loaded: false, steps: { x: [], loss: [], acc: [] }, epochs: [], arch: [], genotypes: new Map(),
    curvature: [], discarded: [], earlyStop: null, regChanges: [], collapse: new Map(), robustDirty: true, curvesDirty: true, archDirty: true, costs: [],
    undrawn: false,
  });
}

/** The genotype picked at ``epoch`` (the latest one at or before it), or null. */
export function genotypeAt(epoch) {
  let best = null;
  for (const [e, g] of state.genotypes) if (e <= epoch && (best === null || e > best[0])) best = [e, g];
  return best ? best[1] : null;
}
