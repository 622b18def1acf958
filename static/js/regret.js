/* Regret curves of black-box searches (rs, re, reinforce, ls), shared by the experiment page (benchmark.js, fed
 * live query events) and the comparison page (compare.js, fed by the server), so both compute and draw them alike.
 *
 * A seeded run is kept compactly, since the best so far changes rarely:
 *   {seed, n: queries made, end: simulated training seconds spent (null when candidates are trained, not looked up),
 *    steps: [[query, elapsed, best validation %, test % of that cell], ...] at each query that improved the best}.
 * series() turns runs into mean ± standard deviation over runs against queries or simulated seconds; a run counts
 * only up to where it got (queries made, seconds spent). band() draws one such curve as a line in a ± std band. */
const AXIS_TITLES = { queries: "queries", seconds: "simulated training seconds" };

/** The words of a budget axis. */
const axisTitle = (unit) => AXIS_TITLES[unit] || unit;

/* Record one query event into runs (a Map: seeded run number -> compact run); a replay after a rewind (a query
 * number already seen) drops what came after it first. */
function record(runs, ev) {
  let run = runs.get(ev.run);
  if (!run) { run = { seed: ev.seed, n: 0, end: null, steps: [] }; runs.set(ev.run, run); }
  if (ev.query <= run.n) run.steps = run.steps.filter((s) => s[0] < ev.query);
  const test = typeof ev.best_test_acc === "number" ? ev.best_test_acc : null;
  const elapsed = typeof ev.elapsed === "number" ? ev.elapsed : null;
  const last = run.steps[run.steps.length - 1];
  if (!last || ev.best_valid_acc !== last[2] || test !== last[3]) run.steps.push([ev.query, elapsed, ev.best_valid_acc, test]);
  run.n = ev.query;
  run.end = elapsed;
  return run;
}

/* Whether every run has simulated times (table lookups), so a seconds axis means something. */
function hasSeconds(runs) {
  return runs.length > 0 && runs.every((r) => typeof r.end === "number" && r.steps.every((s) => typeof s[1] === "number"));
}

function meanStd(values) {
  if (!values.length) return [null, null];
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return [mean, Math.sqrt(values.reduce((a, b) => a + (b - mean) * (b - mean), 0) / values.length)];
}

/* Mean ± std over runs of the best validation so far and of its cell's test accuracy, at each query (1..most
 * queries made) or at each simulated time where some run's best changed or some run ended (drawn as steps: the best
 * holds until the next change). Test entries are null where no run has a test accuracy (trained candidates). */
function series(runs, unit) {
  const seconds = unit === "seconds";
  const key = seconds ? 1 : 0;
  let xs;
  if (seconds) {
    const set = new Set();
    for (const r of runs) { for (const s of r.steps) set.add(s[1]); set.add(r.end); }
    xs = Array.from(set).filter((v) => typeof v === "number").sort((a, b) => a - b);
  } else {
    const most = Math.max(0, ...runs.map((r) => r.n));
    xs = Array.from({ length: most }, (_, i) => i + 1);
  }
  const pointers = runs.map(() => -1);
  const out = { x: [], valid: { mean: [], std: [], n: [] }, test: { mean: [], std: [], n: [] } };
  const push = (x, steps) => {
    const valid = steps.map((s) => s[2]);
    const test = steps.map((s) => s[3]).filter((v) => typeof v === "number");
    const [vm, vs] = meanStd(valid), [tm, ts] = meanStd(test);
    out.x.push(x);
    out.valid.mean.push(vm); out.valid.std.push(vs); out.valid.n.push(valid.length);
    out.test.mean.push(tm); out.test.std.push(ts); out.test.n.push(test.length);
  };
  for (const x of xs) {
    const now = [], before = [];
    runs.forEach((r, i) => {
      while (pointers[i] + 1 < r.steps.length && r.steps[pointers[i] + 1][key] <= x) pointers[i] += 1;
      const extent = seconds ? r.end : r.n;
      if (pointers[i] < 0 || typeof extent !== "number" || x > extent) return;
      const step = r.steps[pointers[i]];
      now.push(step);
      // just before x: the step before one that lands exactly on x (seconds: the curve steps at x)
      const prior = step[key] < x ? step : r.steps[pointers[i] - 1];
      if (prior) before.push(prior);
    });
    if (!now.length) continue;
    if (seconds && out.x.length && before.length) push(x, before); // the values held up to x, then the step
    push(x, now);
  }
  return out;
}

function rgba(color, alpha) {
  if (color[0] === "#") {
    const n = parseInt(color.slice(1), 16);
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }
  return color.replace("rgb(", "rgba(").replace(")", `, ${alpha})`);
}

/* A mean line (solid, or opts.dash) in a ± std band of the same colour; points without a mean are left out. */
function band(x, stat, name, color, opts) {
  const o = opts || {};
  const keep = x.map((_, i) => i).filter((i) => typeof stat.mean[i] === "number");
  const xs = keep.map((i) => x[i]);
  const mean = keep.map((i) => stat.mean[i]);
  const std = keep.map((i) => stat.std[i] || 0);
  const upper = mean.map((m, i) => m + std[i]);
  const lower = mean.map((m, i) => m - std[i]);
  return [
    { x: xs.concat(xs.slice().reverse()), y: upper.concat(lower.reverse()), type: "scatter", mode: "lines",
      fill: "toself", fillcolor: rgba(color, o.alpha || 0.18), line: { width: 0 }, hoverinfo: "skip", showlegend: false,
      name: name + " ± std", legendgroup: o.legendgroup },
    { x: xs, y: mean, type: "scatter", mode: "lines", name, line: { color, width: 2, dash: o.dash || "solid" },
      legendgroup: o.legendgroup, customdata: keep.map((i) => [stat.std[i], stat.n[i]]),
      hovertemplate: `%{x}: %{y:.2f} ± %{customdata[0]:.2f}% (%{customdata[1]} runs)<extra>%{fullData.name}</extra>` },
  ];
}

/* A horizontal reference line across the curves' x range. */
function level(x, y, name, dash) {
  return { x: [x[0], x[x.length - 1]], y: [y, y], type: "scatter", mode: "lines", name,
           line: { dash: dash || "dash", color: "rgb(90, 90, 90)", width: 1 }, hoverinfo: "name" };
}

export { record, series, band, level, rgba, hasSeconds, axisTitle };
