/* The cell drawings (cellgraph.js): the cell a search would pick at the slider's epoch, or the one a retrain trains. */
import * as cellgraph from "../cellgraph.js";
import { $, childDiv } from "../dom.js";
import { cfg } from "./config.js";
import { genotypeAt } from "./state.js";

const shapeOf = (cellType) => (cfg.cellShapes || {})[cellType];

/** The cells of the genotype picked at the snapshot's epoch, or else each edge's strongest op in its weights. */
export function drawCells(snap) {
  const box = $("cells");
  const genotype = genotypeAt(snap.epoch);
  for (const cellType of Object.keys(snap.cells)) {
    const div = childDiv(box, "cell-" + cellType, "cell");
    const graph = (genotype !== null && cellgraph.fromGenotype(genotype, cellType, shapeOf(cellType)))
      || cellgraph.fromWeights(snap.cells[cellType]);
    cellgraph.render(div, graph, `${cellType} cell, epoch ${snap.epoch}`);
  }
}

/** A retrain's page draws the cells of the genotype it trains, once. */
export function drawRetrainCells() {
  const genotype = cfg.genotype;
  const box = $("cells");
  if (!box || genotype === undefined || genotype === null) return;
  const types = typeof genotype === "string" ? ["cell"]
    : Object.keys(genotype).filter((k) => !k.endsWith("_concat") && Array.isArray(genotype[k]));
  for (const cellType of types) {
    const graph = cellgraph.fromGenotype(genotype, cellType, shapeOf(cellType));
    if (!graph) continue;
    cellgraph.render(childDiv(box, "cell-" + cellType, "cell"), graph, `${cellType} cell`);
  }
}
