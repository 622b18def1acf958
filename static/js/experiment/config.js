/* The experiment page's settings, from its page config (views/experiments.py), and the words the server gives. */
import { pageConfig } from "../dom.js";

export const cfg = pageConfig("page-config");
export const runConfig = cfg.experiment.config || {};
// a retrain trains one fixed cell from scratch and tests it each epoch: test curves, no distribution or curvature
export const RETRAIN = cfg.kind === "retrain";
export const HELD_OUT = RETRAIN ? "test" : "val";
export const ACTIVE = new Set(["queued", "running"]);
export const COMPLETED = new Set(["finished", "stopped_early"]); // ended with a result

const labels = cfg.labels || {};

/** The status badge's words (the server's Status labels). */
export const statusLabel = (status) => (labels.status || {})[status] || status;

/** What the heatmap shows, by the optimizer's kind of architecture distribution (selectors.DISTRIBUTION_KINDS). */
export const kindLabel = (kind) => (labels.kinds || {})[kind] || (kind ? String(kind) : "architecture weights");
