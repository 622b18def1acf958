/* The architecture section: the epoch slider and its replay, and at the slider's epoch the heatmaps, the cell it
 * would pick and that cell's benchmark figures, all of the same snapshot. */
import * as benchmark from "../benchmark.js";
import { $ } from "../dom.js";
import { kindLabel } from "./config.js";
import { drawCells } from "./cells.js";
import { drawHeatmaps, onModeChange } from "./heatmap.js";
import { genotypeAt, state } from "./state.js";

const REPLAY_MS = 400;

function sliderIndex() {
  return Math.min(Number($("epoch-slider").value), state.arch.length - 1);
}

export function drawArch() {
  if (!state.arch.length) return;
  $("arch-empty").hidden = true;
  $("slider-row").hidden = false;
  const slider = $("epoch-slider");
  slider.max = String(state.arch.length - 1);
  if (state.follow) slider.value = slider.max;
  const snap = state.arch[sliderIndex()];
  $("epoch-label").textContent = `epoch ${snap.epoch} of ${state.arch[state.arch.length - 1].epoch}`;
  $("arch-title").textContent = `Architecture distribution: ${kindLabel(snap.kind)}`;
  drawHeatmaps(snap);
  drawCells(snap);
  benchmark.showCell(genotypeAt(snap.epoch)); // the benchmark figures of the cell shown
}

/** The slider follows the newest epoch until moved; replay steps through every epoch; the mode switch redraws. */
export function wireArchControls() {
  const slider = $("epoch-slider");
  slider.addEventListener("input", () => {
    state.follow = slider.value === slider.max;
    drawArch();
  });
  let replayTimer = null;
  $("replay").addEventListener("click", () => {
    if (replayTimer) { clearInterval(replayTimer); replayTimer = null; return; }
    slider.value = "0";
    state.follow = false;
    drawArch();
    replayTimer = setInterval(() => {
      if (Number(slider.value) >= Number(slider.max)) { clearInterval(replayTimer); replayTimer = null; state.follow = true; return; }
      slider.value = String(Number(slider.value) + 1);
      drawArch();
    }, REPLAY_MS);
  });
  onModeChange(drawArch);
}
