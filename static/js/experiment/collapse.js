/* The collapse symptom of a picked cell: its skip connections and parameter-free ops per cell type, as the engine
 * counted them, or counted here from the genotype for events that came without the counts. */
import { parseNb201 } from "../cellgraph.js";

// ops without parameters: a cell full of them is DARTS's collapse (nascore.ops.PARAMETER_FREE)
const PARAMETER_FREE = new Set(["none", "skip_connect", "max_pool_3x3", "avg_pool_3x3", "noise"]);

/* The ops of each cell type of a genotype: a NAS-Bench-201 string (its "none" edges included, as the engine counts
 * them), or a DARTS-like dict of [op, input] pairs or of one op per edge row ("none" is no edge there). */
function genotypeOps(genotype) {
  if (typeof genotype === "string") {
    const groups = parseNb201(genotype);
    if (!groups) return null;
    return { cell: groups.flat().map(([op]) => op) }; // [op, source] pairs, grouped by node
  }
  if (!genotype || typeof genotype !== "object") return null;
  const cells = {};
  for (const [key, gene] of Object.entries(genotype)) {
    if (key.endsWith("_concat") || !Array.isArray(gene)) continue;
    cells[key] = gene.map((it) => (Array.isArray(it) ? it[0] : it)).filter((op) => typeof op === "string" && op !== "none");
  }
  return cells;
}

/** {skip: {cell: n}, free: {cell: n}} of a genotype event, or null for a genotype that cannot be read. */
export function collapseCounts(ev) {
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
