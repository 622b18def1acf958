/* The experiment page (templates/experiments/detail.html): a search's live charts, or a retrain's cell and curves.
 * Redraws use Plotly.react with a fixed uirevision so the user's zoom survives updates. */
import { wireArchControls } from "./arch.js";
import { drawRetrainCells } from "./cells.js";
import { RETRAIN } from "./config.js";
import { poll } from "./live.js";

if (RETRAIN) drawRetrainCells();
else wireArchControls();
poll();
