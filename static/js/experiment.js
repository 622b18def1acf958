/* The live experiment page: polls events?after=SEQ, fetching only what is new, and redraws.
 * Redraws use Plotly.react with a fixed uirevision so the user's zoom survives updates.
 * Polling stops once the run has ended. */
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("page-config").textContent);
  const ACTIVE = new Set(["queued", "running"]);
  const $ = (id) => document.getElementById(id);

  const state = {
    lastSeq: 0,
    status: cfg.experiment.status,
    steps: { x: [], loss: [], acc: [] },
    epochs: [], // epoch events in order, one per epoch (a replay overwrites)
    arch: [], // [{epoch, cells}] in epoch order
    genotypes: new Map(), // epoch -> genotype
    follow: true, // the slider follows the newest epoch until the user moves it
    loaded: false, // the backlog has been read; later events count as live
    latencies: [], // seconds from the worker emitting an event to it being on screen
    polls: 0,
    stopped: false,
    historyRev: null,
  };

  function reset() {
    state.lastSeq = 0;
    state.loaded = false;
    state.steps = { x: [], loss: [], acc: [] };
    state.epochs = [];
    state.arch = [];
    state.genotypes = new Map();
    logItems.length = 0;
    $("log").textContent = "";
  }
  window.nasboard = state; // for the browser tests and the latency benchmark

  const plotConfig = { responsive: true, displaylogo: false };
  const fmtPct = (v) => (typeof v === "number" ? (v * 100).toFixed(2) + "%" : "–");
  const fmtNum = (v, d) => (typeof v === "number" ? v.toFixed(d) : "–");

  function fmtSeconds(s) {
    if (typeof s !== "number" || !isFinite(s)) return "";
    s = Math.round(s);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return h ? `${h}h ${String(m).padStart(2, "0")}m` : m ? `${m}m ${String(sec).padStart(2, "0")}s` : `${sec}s`;
  }

  // ---- events -----------------------------------------------------------------------
  function handle(ev) {
    switch (ev.type) {
      case "run_started":
        if (!ev.resumed) { state.steps = { x: [], loss: [], acc: [] }; }
        break;
      case "step": {
        const spe = ev.steps_per_epoch || 1;
        state.steps.x.push(ev.epoch - 1 + ev.step / spe);
        state.steps.loss.push(ev.train_loss);
        state.steps.acc.push(ev.train_acc);
        break;
      }
      case "epoch": {
        state.epochs = state.epochs.filter((e) => e.epoch !== ev.epoch);
        state.epochs.push(ev);
        state.epochs.sort((a, b) => a.epoch - b.epoch);
        break;
      }
      case "arch": {
        state.arch = state.arch.filter((a) => a.epoch !== ev.epoch);
        state.arch.push({ epoch: ev.epoch, cells: ev.cells || {} });
        state.arch.sort((a, b) => a.epoch - b.epoch);
        break;
      }
      case "genotype":
        state.genotypes.set(ev.epoch, ev.genotype);
        break;
      default:
        break;
    }
    if (ev.type !== "step") logEvent(ev);
  }

  function summary(ev) {
    switch (ev.type) {
      case "run_started": return `${ev.resumed ? "resumed at epoch " + ev.start_epoch : "started"} on ${ev.device}: ${ev.epochs} epochs × ${ev.steps_per_epoch} steps`;
      case "epoch": return `epoch ${ev.epoch}/${ev.epochs}: train loss ${fmtNum(ev.train_loss, 4)}, acc ${fmtPct(ev.train_acc)} · val loss ${fmtNum(ev.val_loss, 4)}, acc ${fmtPct(ev.val_acc)} · lr ${fmtNum(ev.lr, 5)} · ${fmtNum(ev.seconds, 1)} s`;
      case "arch": return `architecture distribution of epoch ${ev.epoch} (${Object.keys(ev.cells || {}).join(", ")})`;
      case "genotype": return `genotype of epoch ${ev.epoch}: ${typeof ev.genotype === "string" ? ev.genotype : JSON.stringify(ev.genotype)}`;
      case "checkpoint": return `checkpoint saved after epoch ${ev.epoch}`;
      case "log": return `${ev.level}: ${ev.message}`;
      case "finished": return ev.status === "cancelled" ? `cancelled during epoch ${ev.epoch + 1}` : `finished after ${ev.epoch} epochs`;
      case "failed": return `failed in epoch ${ev.epoch}: ${ev.reason}`;
      default: return JSON.stringify(ev);
    }
  }

  const logItems = [];
  function logEvent(ev) {
    const li = document.createElement("li");
    li.className = "log-" + ev.type + (ev.level ? " log-" + ev.level : "");
    const when = typeof ev.time === "number" ? new Date(ev.time * 1000).toLocaleTimeString() : "";
    li.textContent = `${when}  #${ev.seq} ${summary(ev)}`;
    logItems.push(li);
  }
  function flushLog() {
    const list = $("log");
    for (const li of logItems.splice(0)) list.appendChild(li);
    while (list.children.length > 1000) list.removeChild(list.firstChild);
  }

  // ---- drawing ----------------------------------------------------------------------
  function drawCurves() {
    if (!state.steps.x.length && !state.epochs.length) return;
    $("curves-empty").hidden = true;
    const ex = state.epochs.map((e) => e.epoch);
    const line = (x, y, name, extra) => Object.assign({ x, y, name, type: "scatter", mode: "lines+markers" }, extra || {});
    const thin = { mode: "lines", line: { width: 1 }, opacity: 0.45 };
    const base = (title, ytitle) => ({
      title: { text: title }, uirevision: "keep", margin: { t: 40, r: 10, b: 40, l: 50 }, height: 300,
      xaxis: { title: { text: "epoch" } }, yaxis: { title: { text: ytitle } }, legend: { orientation: "h", y: -0.25 },
    });
    Plotly.react($("curve-loss"), [
      line(state.steps.x, state.steps.loss, "train loss (steps)", thin),
      line(ex, state.epochs.map((e) => e.train_loss), "train loss"),
      line(ex, state.epochs.map((e) => e.val_loss), "val loss"),
    ], base("Loss", "loss"), plotConfig);
    Plotly.react($("curve-acc"), [
      line(state.steps.x, state.steps.acc, "train acc (steps)", thin),
      line(ex, state.epochs.map((e) => e.train_acc), "train acc"),
      line(ex, state.epochs.map((e) => e.val_acc), "val acc"),
    ], base("Accuracy", "accuracy"), plotConfig);
  }

  function sliderIndex() {
    const slider = $("epoch-slider");
    return Math.min(Number(slider.value), state.arch.length - 1);
  }

  function drawArch() {
    if (!state.arch.length) return;
    $("arch-empty").hidden = true;
    $("slider-row").hidden = false;
    const slider = $("epoch-slider");
    slider.max = String(state.arch.length - 1);
    if (state.follow) slider.value = slider.max;
    const snap = state.arch[sliderIndex()];
    $("epoch-label").textContent = `epoch ${snap.epoch} of ${state.arch[state.arch.length - 1].epoch}`;
    const box = $("heatmaps");
    for (const [cellType, cell] of Object.entries(snap.cells)) {
      let div = document.getElementById("heatmap-" + cellType);
      if (!div) {
        div = document.createElement("div");
        div.id = "heatmap-" + cellType;
        div.className = "plot heatmap";
        box.appendChild(div);
      }
      Plotly.react(div, [{
        type: "heatmap", z: cell.weights, x: cell.ops, y: cell.edges, colorscale: "Viridis",
        texttemplate: "%{z:.2f}", hovertemplate: "%{y} · %{x}: %{z:.3f}<extra></extra>",
      }], {
        title: { text: `${cellType} cell, epoch ${snap.epoch}` }, uirevision: "keep-" + cellType,
        margin: { t: 40, r: 10, b: 90, l: 60 }, height: Math.max(260, 60 + 24 * cell.edges.length),
        yaxis: { autorange: "reversed", type: "category", title: { text: "edge" } }, xaxis: { type: "category", tickangle: -35 },
      }, plotConfig);
    }
    drawCells(snap);
  }

  function genotypeAt(epoch) {
    let best = null;
    for (const [e, g] of state.genotypes) if (e <= epoch && (best === null || e > best[0])) best = [e, g];
    return best ? best[1] : null;
  }

  function drawCells(snap) {
    const box = $("cells");
    const genotype = genotypeAt(snap.epoch);
    for (const cellType of Object.keys(snap.cells)) {
      let div = document.getElementById("cell-" + cellType);
      if (!div) {
        div = document.createElement("div");
        div.id = "cell-" + cellType;
        div.className = "cell";
        box.appendChild(div);
      }
      const graph = (genotype !== null && NASCell.fromGenotype(genotype, cellType)) || NASCell.fromWeights(snap.cells[cellType]);
      NASCell.render(div, graph, `${cellType} cell, epoch ${snap.epoch}`);
    }
  }

  function drawStatus(data) {
    state.status = data.status;
    const badge = $("status");
    badge.textContent = data.status.charAt(0).toUpperCase() + data.status.slice(1) + (data.cancel_requested && ACTIVE.has(data.status) ? " (stopping…)" : "");
    badge.className = "status status-" + data.status;
    const p = data.progress;
    const fill = $("progress-fill");
    fill.style.width = (Math.max(0, Math.min(1, p.fraction)) * 100).toFixed(1) + "%";
    fill.className = "fill status-" + data.status;
    let text = `epoch ${p.epoch}/${p.epochs}`;
    if (data.status === "running" && p.steps_per_epoch) text += ` · step ${p.step}/${p.steps_per_epoch} of epoch ${Math.min(p.epoch + 1, p.epochs)}`;
    if (data.status === "running" && p.eta_seconds !== null) text += ` · ETA ${fmtSeconds(p.eta_seconds)}`;
    if (data.status === "queued") text += " · waiting for a worker";
    if (typeof p.best_val_acc === "number") text += ` · best val acc ${fmtPct(p.best_val_acc)}`;
    $("progress-text").textContent = text;
    $("cancel-form").hidden = !ACTIVE.has(data.status);
    $("resume-form").hidden = !(data.status === "cancelled" || data.status === "failed");
    $("error").hidden = !data.error;
    $("error-text").textContent = data.error || "";
  }

  async function showResult() {
    const r = await fetch(cfg.detailUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!r.ok) return;
    const exp = await r.json();
    if (!exp.result) return;
    const res = exp.result;
    $("result-best").textContent = fmtPct(res.best_val_acc);
    $("result-val").textContent = fmtPct(res.val_acc);
    $("result-train").textContent = fmtPct(res.train_acc);
    $("result-params").textContent = res.params === null ? "–" : String(res.params);
    $("result-epochs").textContent = String(res.epochs_completed);
    $("result-genotype").textContent = typeof res.genotype === "string" ? res.genotype : JSON.stringify(res.genotype);
    $("result").hidden = false;
  }

  // ---- polling ----------------------------------------------------------------------
  function notice(text) {
    const box = $("notice");
    box.textContent = text || "";
    box.hidden = !text;
  }

  async function poll() {
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
    if (state.historyRev !== null && data.history_rev !== state.historyRev) {
      // the run rewound to a checkpoint (resume): what we drew past it is gone, so redraw from the start
      state.historyRev = data.history_rev;
      reset();
      poll();
      return;
    }
    state.historyRev = data.history_rev;
    for (const ev of data.events) handle(ev);
    state.lastSeq = data.last_seq;
    if (data.events.length || !state.loaded) {
      drawCurves();
      drawArch();
      flushLog();
    }
    if (state.loaded) {
      // delay from the worker emitting each event to it being drawn here (same clock on one machine)
      const drawn = Date.now() / 1000;
      for (const ev of data.events) if (typeof ev.time === "number") state.latencies.push(drawn - ev.time);
    }
    const wasActive = ACTIVE.has(state.status);
    drawStatus(data);
    if (data.more) { poll(); return; }
    state.loaded = true;
    if (ACTIVE.has(data.status)) {
      setTimeout(poll, cfg.pollMs);
    } else {
      state.stopped = true; // the run has ended: nothing new will come
      if (wasActive && data.status === "finished") showResult();
    }
  }

  $("epoch-slider").addEventListener("input", () => {
    const slider = $("epoch-slider");
    state.follow = slider.value === slider.max;
    drawArch();
  });

  let replayTimer = null;
  $("replay").addEventListener("click", () => {
    if (replayTimer) { clearInterval(replayTimer); replayTimer = null; return; }
    const slider = $("epoch-slider");
    slider.value = "0";
    state.follow = false;
    drawArch();
    replayTimer = setInterval(() => {
      if (Number(slider.value) >= Number(slider.max)) { clearInterval(replayTimer); replayTimer = null; state.follow = true; return; }
      slider.value = String(Number(slider.value) + 1);
      drawArch();
    }, 400);
  });

  poll();
})();
