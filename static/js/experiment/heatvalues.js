/* The numbers a heatmap of one cell shows, by mode: the distribution's weights, the raw alphas they are the softmax
 * of (DARTS family), or each weight's change from uniform (weight - 1/n, n the edge's candidate ops), which shows
 * which ops gain while the softmax of small alphas is still near 1/n everywhere. Pure functions, no drawing. */

export const MODES = ["weights", "alphas", "change"];
const MIN_DECIMALS = 3;
const MAX_DECIMALS = 8;

/* Whether op j of edge i is a candidate: the alphas mark the ops a space leaves out of an edge with null. */
const candidate = (cell, i, j) => !Array.isArray(cell.alphas) || (cell.alphas[i] || [])[j] !== null;

/** Whether the cell can be shown in ``mode`` (raw alphas: only where the events carry them). */
export function hasMode(cell, mode) {
  return mode !== "alphas" || (Array.isArray(cell.alphas) && cell.alphas.length === cell.weights.length);
}

/** The edges x ops matrix ``mode`` shows (null entries: no such op on that edge). */
export function modeValues(cell, mode) {
  if (mode === "alphas") return cell.alphas.map((row) => row.map((v) => (typeof v === "number" ? v : null)));
  return cell.weights.map((row, i) => {
    const n = row.filter((_, j) => candidate(cell, i, j)).length || 1;
    return row.map((w, j) => (!candidate(cell, i, j) ? null : mode === "change" ? w - 1 / n : w));
  });
}

/** Per entry its rank on its edge by weight (1: the strongest; equal weights share a rank), null where no op. */
export function ranks(cell) {
  return cell.weights.map((row, i) => {
    const shown = row.filter((_, j) => candidate(cell, i, j));
    return row.map((w, j) => (candidate(cell, i, j) ? 1 + shown.filter((v) => v > w).length : null));
  });
}

/** The columns of each edge's strongest op; none where every candidate weighs the same (nothing leads yet). */
export function topOps(cell) {
  return ranks(cell).map((row) => {
    const firsts = row.map((r, j) => (r === 1 ? j : -1)).filter((j) => j >= 0);
    return firsts.length === row.filter((r) => r !== null).length && firsts.length > 1 ? [] : firsts;
  });
}

/* Whether ``text`` reads as zero ("0.000", "-0.000"). */
const readsZero = (text) => Number(text) === 0;

/** Decimals enough for a row's different values to read differently, and for none but 0 to read as 0 (at least 3). */
export function decimalsFor(row) {
  const values = row.filter((v) => typeof v === "number");
  const distinct = new Set(values).size;
  for (let d = MIN_DECIMALS; d < MAX_DECIMALS; d++) {
    const texts = values.map((v) => v.toFixed(d));
    if (new Set(texts).size === distinct && texts.every((t, i) => values[i] === 0 || !readsZero(t))) return d;
  }
  return MAX_DECIMALS;
}

/** Each row's values as text, with that row's decimals. */
export function formatRows(values) {
  return values.map((row) => {
    const d = decimalsFor(row);
    return row.map((v) => (typeof v === "number" ? v.toFixed(d) : ""));
  });
}

/** The largest distance from 0, for a colour scale centred on 0 (never 0 itself, so Plotly gets a range). */
export function symmetricBound(values) {
  let most = 0;
  for (const row of values) for (const v of row) if (typeof v === "number") most = Math.max(most, Math.abs(v));
  return most || 1e-6;
}
