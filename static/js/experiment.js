/* The live experiment page: reads events?after=SEQ, fetching only what is new, then listens to the pushed stream
 * (eventstream.js) or, where none can be had, polls; and redraws.
 * Redraws use Plotly.react with a fixed uirevision so the user's zoom survives updates.
 * Polling stops once the run has ended. */
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("page-config").textContent);
  const ACTIVE = new Set(["queued", "running"]);
  const COMPLETED = new Set(["finished", "stopped_early"]); // ended with a result
  const STATUS_LABELS = { queued: "Queued", running: "Running", finished: "Finished", cancelled: "Cancelled",
                          failed: "Failed", stopped_early: "Stopped early" };
  // what the heatmap shows, by the optimizer's kind of architecture distribution
  const KIND_LABELS = { softmax: "softmax weights", gumbel: "Gumbel-softmax means", dirichlet: "Dirichlet means",
                        frequency: "sampling frequencies", policy: "controller probabilities" };
  const kindLabel = (kind) => KIND_LABELS[kind] || (kind ? String(kind) : "architecture weights");
  // ops without parameters: a cell full of them is DARTS's collapse (nascore.ops.PARAMETER_FREE)
  const PARAMETER_FREE = new Set(["none", "skip_connect", "max_pool_3x3", "avg_pool_3x3", "noise"]);
  const $ = (id) => document.getElementById(id);
  const runConfig = cfg.experiment.config || {};
  // a retrain trains one fixed cell from scratch and tests it each epoch: test curves, no distribution or curvature
  const RETRAIN = cfg.kind === "retrain";
  const HELD_OUT = RETRAIN ? "test" : "val";
  // events that change the curvature or collapse charts (a rollback also drops later epochs)
  const ROBUST_EVENTS = new Set(["curvature", "early_stop", "regularization_change", "genotype"]);

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
    curvatureText: null, // the curvature section's line from the server's latest answer (null: as the page was served)
    costs: [], // expected_cost events (ProxylessNAS's hardware-aware term), one per epoch, in epoch order
    undrawn: false, // events were applied that are not drawn yet
    historyDrawnMs: null, // when (performance.now()) the backlog was first on screen
  };

  function reset() {
    state.lastSeq = 0;
    state.loaded = false;
    state.steps = { x: [], loss: [], acc: [] };
    state.epochs = [];
    state.arch = [];
    state.genotypes = new Map();
    state.curvature = [];
    state.discarded = [];
    state.earlyStop = null;
    state.regChanges = [];
    state.collapse = new Map();
    state.robustDirty = true;
    state.costs = [];
    state.undrawn = false;
    logItems.length = 0;
    if (window.NASSelection) NASSelection.reset();
    if (window.NASBenchmark) NASBenchmark.reset();
    $("log").textContent = "";
  }
  window.nasboard = state; // for the browser tests and the latency benchmark

  const plotConfig = { responsive: true, displaylogo: false };
  const fmtPct = (v) => (typeof v === "number" ? (v * 100).toFixed(2) + "%" : "–");
  const fmtNum = (v, d) => (typeof v === "number" ? v.toFixed(d) : "–");

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
      case "epoch":
      case "eval_epoch": {
        state.epochs = state.epochs.filter((e) => e.epoch !== ev.epoch);
        state.epochs.push(ev);
        state.epochs.sort((a, b) => a.epoch - b.epoch);
        break;
      }
      case "arch": {
        state.arch = state.arch.filter((a) => a.epoch !== ev.epoch);
        state.arch.push({ epoch: ev.epoch, cells: ev.cells || {}, kind: ev.kind });
        state.arch.sort((a, b) => a.epoch - b.epoch);
        break;
      }
      case "genotype": {
        state.genotypes.set(ev.epoch, ev.genotype);
        const counts = collapseCounts(ev);
        if (counts) state.collapse.set(ev.epoch, counts);
        break;
      }
      case "expected_cost": {
        state.costs = state.costs.filter((c) => c.epoch !== ev.epoch);
        state.costs.push(ev);
        state.costs.sort((a, b) => a.epoch - b.epoch);
        break;
      }
      case "curvature": {
        state.curvature = state.curvature.filter((p) => p.epoch !== ev.epoch);
        state.curvature.push({ epoch: ev.epoch, eigenvalue: ev.eigenvalue, trace: ev.trace, round: ev.round || 0,
                               ratio: ev.ratio });
        state.curvature.sort((a, b) => a.epoch - b.epoch);
        break;
      }
      case "early_stop":
        state.earlyStop = ev;
        break;
      case "regularization_change":
        state.regChanges = state.regChanges.filter((c) => c.increase !== ev.increase);
        state.regChanges.push(ev);
        rollBack(ev.restored_epoch);
        break;
      case "selection":
        if (window.NASSelection) NASSelection.handle(ev);
        break;
      default:
        break;
    }
    if (window.NASBenchmark) NASBenchmark.handle(ev);
    if (ev.type !== "step" && ev.type !== "query") logEvent(ev); // queries: the regret plot, not the log
    if (ROBUST_EVENTS.has(ev.type)) state.robustDirty = true;
  }

  /* Skip connections and parameter-free ops per cell type of a genotype event: the engine's counts when it sent
   * them, else counted here from the genotype (DARTS-like dict or NAS-Bench-201 string). */
  function genotypeOps(genotype) {
    if (typeof genotype === "string") {
      const ops = [];
      for (const group of genotype.split("+")) {
        for (const item of group.replace(/^\|+|\|+$/g, "").split("|")) if (item) ops.push(item.split("~")[0]);
      }
      return { cell: ops };
    }
    if (!genotype || typeof genotype !== "object") return null;
    const cells = {};
    for (const [key, gene] of Object.entries(genotype)) {
      if (key.endsWith("_concat") || !Array.isArray(gene)) continue;
      // [[op, input], ...] pairs, or one op per edge row (a document space's edge_ops; "none" is no edge)
      cells[key] = gene.map((it) => (Array.isArray(it) ? it[0] : it)).filter((op) => typeof op === "string" && op !== "none");
    }
    return cells;
  }
  function collapseCounts(ev) {
    const given = (v) => v && typeof v === "object" && Object.keys(v).length;
    if (given(ev.skip_connections) && given(ev.parameter_free)) return { skip: ev.skip_connections, free: ev.parameter_free };
    const cells = genotypeOps(ev.genotype);
    if (!cells || !Object.keys(cells).length) return null;
    const skip = {}, free = {};
    for (const [cell, ops] of Object.entries(cells)) {
      skip[cell] = ops.filter((op) => op === "skip_connect").length;
      free[cell] = ops.filter((op) => PARAMETER_FREE.has(op)).length;
    }
    return { skip, free };
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

  const logItems = [];
  function logEvent(ev) {
    const li = document.createElement("li");
    li.className = "log-" + ev.type + (ev.level ? " log-" + ev.level : "");
    const when = typeof ev.time === "number" ? new Date(ev.time * 1000).toLocaleTimeString() : "";
    li.textContent = `${when}  #${ev.seq} ${ev.text}`; // the server words it (presenters/events.py)
    logItems.push(li);
  }
  function flushLog() {
    const list = $("log");
    const fresh = document.createDocumentFragment();
    for (const li of logItems.splice(0)) fresh.appendChild(li);
    list.appendChild(fresh); // one insertion however many lines
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
      line(ex, state.epochs.map((e) => e[HELD_OUT + "_loss"]), HELD_OUT + " loss"),
    ], base("Loss", "loss"), plotConfig);
    Plotly.react($("curve-acc"), [
      line(state.steps.x, state.steps.acc, "train acc (steps)", thin),
      line(ex, state.epochs.map((e) => e.train_acc), "train acc"),
      line(ex, state.epochs.map((e) => e[HELD_OUT + "_acc"]), HELD_OUT + " acc"),
    ], base("Accuracy", "accuracy"), plotConfig);
    drawCost(line, base);
  }

  /* The expected latency (or FLOPs) of the distribution per epoch; the words come with the page (presenters/cost.py). */
  function drawCost(line, base) {
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

  /* The div with this id in `box`, created the first time: each redraw updates the same plot in place. */
  function childDiv(box, id, className) {
    let div = document.getElementById(id);
    if (!div) {
      div = document.createElement("div");
      div.id = id;
      div.className = className;
      box.appendChild(div);
    }
    return div;
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
    $("arch-title").textContent = `Architecture distribution: ${kindLabel(snap.kind)}`;
    const box = $("heatmaps");
    for (const [cellType, cell] of Object.entries(snap.cells)) {
      const div = childDiv(box, "heatmap-" + cellType, "plot heatmap");
      Plotly.react(div, [{
        type: "heatmap", z: cell.weights, x: cell.ops, y: cell.edges, colorscale: "Viridis", name: kindLabel(snap.kind),
        texttemplate: "%{z:.2f}", hovertemplate: "%{y} · %{x}: %{z:.3f}<extra></extra>",
      }], {
        title: { text: `${cellType} cell: ${kindLabel(snap.kind)}, epoch ${snap.epoch}` }, uirevision: "keep-" + cellType,
        margin: { t: 40, r: 10, b: 90, l: 60 }, height: Math.max(260, 60 + 24 * cell.edges.length),
        yaxis: { autorange: "reversed", type: "category", title: { text: "edge" } }, xaxis: { type: "category", tickangle: -35 },
      }, plotConfig);
    }
    drawCells(snap);
    if (window.NASBenchmark) NASBenchmark.showCell(genotypeAt(snap.epoch)); // the benchmark figures of the cell shown
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
      const div = childDiv(box, "cell-" + cellType, "cell");
      const shape = (cfg.cellShapes || {})[cellType];
      const graph = (genotype !== null && NASCell.fromGenotype(genotype, cellType, shape)) || NASCell.fromWeights(snap.cells[cellType]);
      NASCell.render(div, graph, `${cellType} cell, epoch ${snap.epoch}`);
    }
  }

  // ---- curvature (RobustDARTS) --------------------------------------------------------
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


  // vertical markers shared by the eigenvalue and the collapse charts: early stop and DARTS-ADA changes
  function eventLines(withLabels) {
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
  function showPlot(div) {
    if (!div.hidden) return;
    div.hidden = false;
    for (const other of div.parentNode.children) {
      if (other !== div && !other.hidden && other.data) Plotly.Plots.resize(other);
    }
  }

  function drawCurvature() {
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

  function drawCollapse() {
    if (!$("curve-collapse")) return;
    $("collapse-empty").hidden = state.collapse.size > 0;
    if (!state.collapse.size) return;
    const div = $("curve-collapse");
    showPlot(div);
    const epochs = [...state.collapse.keys()].sort((a, b) => a - b);
    const cells = [...new Set(epochs.flatMap((e) => Object.keys(state.collapse.get(e).skip)))];
    const colors = ["#1f4e79", "#e65100", "#2e7d32", "#7b1fa2"];
    const traces = [];
    cells.forEach((cell, i) => {
      const color = colors[i % colors.length];
      const get = (kind) => epochs.map((e) => { const v = state.collapse.get(e)[kind][cell]; return typeof v === "number" ? v : null; });
      traces.push({ x: epochs, y: get("skip"), name: `${cell}: skip connections`, type: "scatter", mode: "lines+markers",
                    line: { color, shape: "hv" } });
      traces.push({ x: epochs, y: get("free"), name: `${cell}: parameter-free ops`, type: "scatter", mode: "lines+markers",
                    line: { color, dash: "dash", shape: "hv" }, marker: { symbol: "square", size: 5 } });
    });
    const { shapes, annotations } = eventLines(false);
    Plotly.react(div, traces, {
      title: { text: "Skip connections and parameter-free ops in the picked cell" }, uirevision: "keep-collapse", height: 460,
      margin: { t: 60, r: 10, b: 40, l: 50 }, shapes, annotations,
      xaxis: { title: { text: "epoch" } }, yaxis: { title: { text: "ops in the cell" }, rangemode: "tozero", dtick: 1 },
      legend: { orientation: "h", y: -0.18 },
    }, plotConfig);
  }

  function drawStatus(data) {
    state.status = data.status;
    const badge = $("status");
    badge.textContent = (STATUS_LABELS[data.status] || data.status) + (data.cancel_requested && ACTIVE.has(data.status) ? " (stopping…)" : "");
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

  async function showResult() {
    const r = await fetch(cfg.detailUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!r.ok) return;
    const exp = await r.json();
    if (!exp.result) return;
    const res = exp.result;
    if (RETRAIN) {
      $("result-test").textContent = fmtPct(res.test_acc);
      $("result-train").textContent = fmtPct(res.train_acc);
      $("result-params").textContent = res.params === null ? "–" : String(res.params);
      $("result-flops").textContent = res.flops === undefined || res.flops === null ? "–" : String(res.flops);
      $("result-epochs").textContent = String(res.epochs_completed);
      $("result").hidden = false;
      return;
    }
    $("result-best").textContent = fmtPct(res.best_val_acc);
    $("result-val").textContent = fmtPct(res.val_acc);
    $("result-train").textContent = fmtPct(res.train_acc);
    $("result-params").textContent = res.params === null ? "–" : String(res.params);
    $("result-epochs").textContent = String(res.epochs_completed);
    $("result-genotype").textContent = typeof res.genotype === "string" ? res.genotype : JSON.stringify(res.genotype);
    if (window.NASBenchmark) NASBenchmark.showResult(res.genotype);
    if (typeof res.returned_epoch === "number") {
      $("result-returned").textContent = `epoch ${res.returned_epoch} (the search stopped after epoch ${res.epochs_completed})`;
      $("result-returned-row").hidden = false;
    }
    const col = res.collapse || {};
    const fmtCounts = (c) => (c && c.skip_connections ? Object.keys(c.skip_connections).map((k) =>
      `${k}: ${c.skip_connections[k]} skip, ${c.parameter_free[k]} parameter-free`).join(" · ") : "");
    if (col.genotype && fmtCounts(col.genotype)) {
      $("result-collapse").textContent = fmtCounts(col.genotype) +
        (typeof res.returned_epoch === "number" && fmtCounts(col.last_genotype) ? ` (last epoch's cell: ${fmtCounts(col.last_genotype)})` : "");
      $("result-collapse-row").hidden = false;
    }
    $("result").hidden = false;
  }

  // ---- applying and drawing fetched events --------------------------------------------
  /* One answer of the events API into the state: its events in order, and the sections' lines those events changed
   * (worded by the server, presenters/live.py). Nothing is drawn here: a page's events (or a backlog's pages) are
   * drawn together by drawPending, since every chart is redrawn whole and a redraw costs far more than an event. */
  function applyPage(data) {
    performance.mark("nasboard:apply-start");
    for (const ev of data.events) handle(ev);
    if (data.events.length) state.undrawn = true;
    if (typeof data.curvature_summary === "string") { state.curvatureText = data.curvature_summary; state.robustDirty = true; }
    if (typeof data.selection_summary === "string" && window.NASSelection) NASSelection.setSummary(data.selection_summary, data.selection_title);
    if (typeof data.blackbox_summary === "string" && window.NASBenchmark) NASBenchmark.setLines(data);
    performance.measure("nasboard:apply", "nasboard:apply-start");
  }

  /* Draw what applyPage took in since the last draw, once: called when no more events are waiting (the backlog is
   * read), so a long history is drawn once rather than once per page of it. */
  function drawPending() {
    if (!state.undrawn && state.loaded) return;
    performance.mark("nasboard:draw-start");
    drawCurves();
    drawArch();
    if (state.robustDirty || !state.loaded) {
      drawCurvature();
      drawCollapse();
      state.robustDirty = false;
    }
    if (window.NASSelection) NASSelection.draw((cfg.selection || {}).block || null, Boolean((cfg.selection || {}).shown));
    if (window.NASBenchmark) NASBenchmark.draw(state);
    flushLog();
    state.undrawn = false;
    performance.measure("nasboard:draw", "nasboard:draw-start");
    // milliseconds from the navigation to the history on screen (bench_events reports it)
    if (!state.loaded) state.historyDrawnMs = performance.now();
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
    receive(data, false);
  }

  // ---- pushed updates (eventstream.js): the same answers as a poll, one per event, until the run has ended ----
  let stream = null;
  let streamUsable = Boolean(cfg.streamUrl && window.NASEventStream); // false once the server refused a stream

  function listen() {
    if (!streamUsable) { setTimeout(poll, cfg.pollMs); return; }
    stream = NASEventStream.open(cfg.streamUrl, state.lastSeq, {
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

  /* Apply one answer (a poll's page, or one pushed event), dropping events already applied. */
  function receive(data, pushed) {
    if (state.historyRev !== null && data.history_rev !== state.historyRev) {
      // the run rewound to a checkpoint (resume): what we drew past it is gone, so redraw from the start
      closeStream();
      state.historyRev = data.history_rev;
      reset();
      poll();
      return;
    }
    state.historyRev = data.history_rev;
    const fresh = data.events.filter((ev) => ev.seq > state.lastSeq);  // a pushed event may repeat a polled one
    applyPage({ ...data, events: fresh });
    state.lastSeq = Math.max(state.lastSeq, data.last_seq);
    if (!data.more) drawPending();
    if (state.loaded) {
      // delay from the worker emitting each event to it being drawn here (same clock on one machine)
      const drawn = Date.now() / 1000;
      for (const ev of fresh) if (typeof ev.time === "number") state.latencies.push(drawn - ev.time);
    }
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

  /* A retrain's page draws the cells of the genotype it trains, once. */
  function drawRetrainCells() {
    const genotype = cfg.genotype;
    const box = $("cells");
    if (!box || genotype === undefined || genotype === null) return;
    const types = typeof genotype === "string" ? ["cell"]
      : Object.keys(genotype).filter((k) => !k.endsWith("_concat") && Array.isArray(genotype[k]));
    for (const cellType of types) {
      const graph = NASCell.fromGenotype(genotype, cellType, (cfg.cellShapes || {})[cellType]);
      if (!graph) continue;
      const div = document.createElement("div");
      div.id = "cell-" + cellType;
      div.className = "cell";
      box.appendChild(div);
      NASCell.render(div, graph, `${cellType} cell`);
    }
  }

  if (RETRAIN) { drawRetrainCells(); poll(); return; }

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
