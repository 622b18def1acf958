/* The status badge, the progress bar, the action buttons, the error and the early stop's reason, from each answer
 * of the events API; and the notice line of a paused connection. */
import { $ } from "../dom.js";
import { ACTIVE, statusLabel } from "./config.js";
import { state } from "./state.js";

export function drawStatus(data) {
  state.status = data.status;
  const badge = $("status");
  badge.textContent = statusLabel(data.status) + (data.cancel_requested && ACTIVE.has(data.status) ? " (stopping…)" : "");
  badge.className = "status status-" + data.status;
  const p = data.progress;
  const fill = $("progress-fill");
  fill.style.width = (Math.max(0, Math.min(1, p.fraction)) * 100).toFixed(1) + "%";
  $("progress-bar").setAttribute("aria-valuenow", (Math.max(0, Math.min(1, p.fraction)) * 100).toFixed(1)); // role=progressbar
  fill.className = "fill status-" + data.status;
  $("progress-text").textContent = p.text; // worded by the server (presenters/progress.py)
  $("cancel-form").hidden = !ACTIVE.has(data.status);
  $("resume-form").hidden = !(data.status === "cancelled" || data.status === "failed");
  $("error").hidden = !data.error;
  $("error-text").textContent = data.error || "";
  const reason = data.stop_reason || (state.earlyStop && state.earlyStop.reason) || "";
  $("stopped-early").hidden = !reason;
  $("stop-reason-text").textContent = reason;
}

/** Show a line about the connection (empty: hide it). */
export function notice(text) {
  const box = $("notice");
  box.textContent = text || "";
  box.hidden = !text;
}
