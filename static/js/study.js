// A hyperparameter study's live page: draws the figures the server built (plotly JSON), keeps the trials table
// sortable, and polls the page data while the study is active. Every sentence comes from the server.
import { pageConfig } from "./dom.js";
import { Plotly, plotConfig } from "./plotly.js";

const config = pageConfig("page-config");
const FIGURES = ["history", "curves", "parallel", "importance", "slice"];
const STATE_ORDER = { complete: 0, running: 1, waiting: 2, pruned: 3, failed: 4 };
const sort = { col: "number", asc: true };
let rows = config.data.rows;
let active = config.data.active;

function drawFigures(data) {
  for (const key of FIGURES) {
    const box = document.getElementById(`fig-${key}`);
    const empty = document.getElementById(`fig-${key}-empty`);
    const figure = data.figures[key];
    empty.textContent = data.empty[key];
    if (!figure) {
      box.hidden = true;
      empty.hidden = false;
      if (box.classList.contains("js-plotly-plot")) Plotly.purge(box);
      continue;
    }
    box.hidden = false;
    empty.hidden = true;
    Plotly.react(box, figure.data, figure.layout, plotConfig);
  }
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function sortKey(row, col) {
  if (col === "state") return STATE_ORDER[row.state] ?? 9;
  const value = row[col];
  return value === null || value === undefined ? null : value;
}

function compare(a, b) {
  const x = sortKey(a, sort.col);
  const y = sortKey(b, sort.col);
  if (x === null && y === null) return a.number - b.number;
  if (x === null) return 1; // missing values last, whatever the direction
  if (y === null) return -1;
  const order = typeof x === "string" ? x.localeCompare(y) : x - y;
  return (sort.asc ? order : -order) || a.number - b.number;
}

function drawTable() {
  const body = document.getElementById("trial-rows");
  const sorted = [...rows].sort(compare);
  body.replaceChildren(...sorted.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.number = r.number;
    if (r.best) tr.className = "best-trial";
    const state = document.createElement("span");
    state.className = `status status-${r.state}`;
    state.textContent = r.state_label;
    if (r.error) state.title = r.error;
    const stateCell = document.createElement("td");
    stateCell.append(state);
    tr.append(cell(`${r.number}${r.best ? " ★" : ""}`), stateCell, cell(r.value_text), cell(String(r.epochs)),
      cell(r.params, "params-cell"), cell(r.test_text));
    return tr;
  }));
  document.getElementById("trials-empty").hidden = rows.length > 0;
  for (const th of document.querySelectorAll("#trials th[data-col]")) {
    if (th.dataset.col === sort.col) th.setAttribute("aria-sort", sort.asc ? "ascending" : "descending");
    else th.removeAttribute("aria-sort");
  }
}

function drawSummary(data) {
  const statusBox = document.getElementById("status");
  statusBox.textContent = data.status_label;
  statusBox.className = `status status-${data.status}`;
  const bar = document.getElementById("progress-bar");
  bar.setAttribute("aria-valuemax", data.progress.total);
  bar.setAttribute("aria-valuenow", data.progress.done);
  bar.setAttribute("aria-valuetext", data.progress.text);
  const fill = document.getElementById("progress-fill");
  fill.style.width = `${data.progress.percent}%`;
  fill.className = `fill status-${data.status}`;
  document.getElementById("progress-text").textContent = data.progress.text;
  document.getElementById("best-text").textContent = data.best ? data.best.text
    : "No trial has completed yet: the best appears with the first one that runs all its epochs.";
  const genotype = data.best ? data.best.genotype : "";
  document.getElementById("best-genotype").hidden = !genotype;
  document.getElementById("best-genotype-text").textContent = genotype;
  const ensemble = data.best ? data.best.ensemble : "";
  document.getElementById("best-ensemble").hidden = !ensemble;
  document.getElementById("best-ensemble").textContent = ensemble;
  const params = document.getElementById("best-params");
  params.replaceChildren(...(data.best ? data.best.params : []).flatMap((p) => {
    const dt = document.createElement("dt");
    dt.textContent = p.name;
    const dd = document.createElement("dd");
    dd.textContent = p.value;
    return [dt, dd];
  }));
  document.getElementById("error").hidden = !data.error;
  document.getElementById("error-text").textContent = data.error || "";
  document.getElementById("cancel-form").hidden = !data.actions.cancel;
  document.getElementById("resume-form").hidden = !data.actions.resume;
  document.getElementById("export-best").hidden = !data.actions.export;
}

function draw(data) {
  rows = data.rows;
  drawSummary(data);
  drawTable();
  drawFigures(data);
}

async function poll() {
  try {
    const response = await fetch(config.dataUrl, { headers: { Accept: "application/json" } });
    if (response.ok) {
      const data = await response.json();
      const ended = active && !data.active;
      active = data.active;
      draw(data);
      // an ended study may now offer the retrain of its best trial: the server renders that button
      if (ended && data.actions.retrain && !document.getElementById("retrain-best-form")) location.reload();
    }
  } catch (err) {
    // a dropped connection: the next poll tries again
  }
  if (active) setTimeout(poll, config.pollMs);
}

for (const th of document.querySelectorAll("#trials th[data-col]")) {
  th.querySelector("button").addEventListener("click", () => {
    const col = th.dataset.col;
    sort.asc = sort.col === col ? !sort.asc : th.dataset.type !== "number" || col === "number";
    sort.col = col;
    drawTable();
  });
}

draw(config.data);
if (active) setTimeout(poll, config.pollMs);
