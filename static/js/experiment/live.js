/* Keeping the page up to date: reads events?after=SEQ, fetching only what is new, then listens to the pushed stream
 * (eventstream.js) or, where none can be had, polls; stops once the run has ended. */
import * as benchmark from "../benchmark.js";
import * as eventstream from "../eventstream.js";
import * as selection from "../selection.js";
import { ACTIVE, cfg, COMPLETED } from "./config.js";
import { applyPage, drawPending } from "./draw.js";
import { clearLog } from "./log.js";
import { showResult } from "./result.js";
import { state, resetState } from "./state.js";
import { drawStatus, notice } from "./status.js";

let stream = null;
let streamUsable = Boolean(cfg.streamUrl); // false once the server refused a stream
let drawScheduled = false;
let undrawnTimes = []; // emission times of pushed events applied but not drawn yet

/** Fetch the events after the last one applied, and apply them. */
export async function poll() {
  let data;
  try {
    const r = await fetch(`${cfg.eventsUrl}?after=${state.lastSeq}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (r.status === 401 || r.status === 403) { notice("Your session has ended: reload the page to log in again."); state.stopped = true; return; }
    if (!r.ok) throw new Error(`the server answered ${r.status}`);
    data = await r.json();
  } catch (err) {
    notice(`Live updates paused (${err.message}); retrying…`);
    setTimeout(poll, Math.max(cfg.pollMs, 3000));
    return;
  }
  notice("");
  state.polls += 1;
  receive(data, false);
}

/* Pushed updates: the same answers as a poll, one per event, until the run has ended. */
function listen() {
  if (!streamUsable) { setTimeout(poll, cfg.pollMs); return; }
  stream = eventstream.open(cfg.streamUrl, state.lastSeq, {
    page: (data) => { notice(""); receive(data, true); },
    end: (data) => { stream = null; receive(data, true); state.stopped = true; },
    fail: (everOpened) => {
      // never opened: the server does not stream (404/501, a WSGI server), poll for good; it did work: poll
      // through the outage and listen again after the next good poll
      stream = null;
      streamUsable = everOpened;
      state.streamFailures += 1;
      poll();
    },
  });
  if (stream === null) { streamUsable = false; setTimeout(poll, cfg.pollMs); }
  else state.streams += 1;
}

function closeStream() {
  if (stream) { stream.close(); stream = null; }
}

/* The run rewound to a checkpoint (resume): what was drawn past it is gone, so everything is read again. */
function reset() {
  resetState();
  clearLog();
  selection.reset();
  benchmark.reset();
}

/* Draw what was applied and note, for each live event drawn, its delay from the worker emitting it to it being
 * drawn here (the same clock on one machine; bench_events reports them). */
function drawNow() {
  drawPending();
  const drawn = Date.now() / 1000;
  for (const time of undrawnTimes) state.latencies.push(drawn - time);
  undrawnTimes = [];
}

/* A redraw costs far more than an event: pushed events that arrive while one is pending are drawn with it. A page
 * that is not shown gets no animation frames, so there a timer draws. */
function scheduleDraw() {
  if (drawScheduled) return;
  drawScheduled = true;
  const run = () => { drawScheduled = false; drawNow(); };
  if (document.visibilityState === "visible") requestAnimationFrame(run);
  else setTimeout(run, 0);
}

/* Apply one answer (a poll's page, or one pushed event), dropping events already applied. */
function receive(data, pushed) {
  if (state.historyRev !== null && data.history_rev !== state.historyRev) {
    closeStream();
    state.historyRev = data.history_rev;
    reset();
    poll();
    return;
  }
  state.historyRev = data.history_rev;
  const fresh = data.events.filter((ev) => ev.seq > state.lastSeq); // a pushed event may repeat a polled one
  applyPage({ ...data, events: fresh });
  state.lastSeq = Math.max(state.lastSeq, data.last_seq);
  if (state.loaded) for (const ev of fresh) if (typeof ev.time === "number") undrawnTimes.push(ev.time);
  if (pushed) scheduleDraw(); // one message per event: a burst of them is drawn once, in the next frame
  else if (!data.more) drawNow();
  const wasActive = ACTIVE.has(state.status);
  drawStatus(data);
  if (pushed) {
    // the stream goes on until its ``end``; the result shows as soon as the run is seen to have ended
    if (wasActive && COMPLETED.has(data.status)) showResult();
    return;
  }
  if (data.more) { poll(); return; }
  state.loaded = true;
  if (ACTIVE.has(data.status)) {
    listen();
  } else {
    state.stopped = true; // the run has ended: nothing new will come
    if (wasActive && COMPLETED.has(data.status)) showResult();
  }
}
