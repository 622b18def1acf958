/* Applying answers of the events API and drawing what they changed. Nothing is drawn while events are applied:
 * a page's events (or a backlog's pages) are drawn together by drawPending, since every chart is redrawn whole and
 * a redraw costs far more than an event. */
import * as benchmark from "../benchmark.js";
import * as selection from "../selection.js";
import { drawArch } from "./arch.js";
import { drawCollapse } from "./collapsechart.js";
import { cfg } from "./config.js";
import { drawCurvature } from "./curvature.js";
import { drawCurves } from "./curves.js";
import { handle } from "./events.js";
import { flushLog } from "./log.js";
import { state } from "./state.js";

/** One answer into the state: its events in order, and the sections' lines those events changed (worded by the
 * server, presenters/live.py). */
export function applyPage(data) {
  performance.mark("nasboard:apply-start");
  for (const ev of data.events) handle(ev);
  if (data.events.length) state.undrawn = true;
  if (typeof data.curvature_summary === "string") { state.curvatureText = data.curvature_summary; state.robustDirty = true; }
  if (typeof data.selection_summary === "string") selection.setSummary(data.selection_summary, data.selection_title);
  if (typeof data.blackbox_summary === "string") benchmark.setLines(data);
  performance.measure("nasboard:apply", "nasboard:apply-start");
}

/** Draw what applyPage took in since the last draw, once: called when no more events are waiting (the backlog is
 * read), so a long history is drawn once rather than once per page of it. */
export function drawPending() {
  if (!state.undrawn && state.loaded) return;
  performance.mark("nasboard:draw-start");
  // a live event redraws only the charts it changed (a step: the curves; an arch event: the heatmaps and cell)
  if (state.curvesDirty || !state.loaded) drawCurves();
  if (state.archDirty || !state.loaded) drawArch();
  state.curvesDirty = false;
  state.archDirty = false;
  if (state.robustDirty || !state.loaded) {
    drawCurvature();
    drawCollapse();
    state.robustDirty = false;
  }
  selection.draw((cfg.selection || {}).block || null, Boolean((cfg.selection || {}).shown));
  benchmark.draw(state);
  flushLog();
  state.undrawn = false;
  performance.measure("nasboard:draw", "nasboard:draw-start");
  // milliseconds from the navigation to the history on screen (bench_events reports it)
  if (!state.loaded) state.historyDrawnMs = performance.now();
}
