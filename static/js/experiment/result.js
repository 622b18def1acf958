/* The result block, filled in from the experiment's API answer once the run is seen to have ended. */
import * as benchmark from "../benchmark.js";
import { $ } from "../dom.js";
import { cfg, RETRAIN } from "./config.js";

const fmtPct = (v) => (typeof v === "number" ? (v * 100).toFixed(2) + "%" : "–");

export async function showResult() {
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
  $("result-genotype").textContent = res.genotype_text; // the DARTS code's Genotype(...) line, or NB-201's string
  benchmark.showResult(res.genotype);
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
