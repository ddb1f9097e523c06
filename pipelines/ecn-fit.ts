/**
 * Pipeline `ecn-fit`: level-2 data -> vanilla Gaussian-mixture ECN model ->
 * report. Runs on the embedded synthetic data unless `--set ecn.data.source=lobster --set
 * ecn.data.path=FILE` points it at real data.
 */
import { Pipeline } from "../core/pipeline/pipeline.ts";
import { fitEcnGmm, loadL2 } from "../stages/ecn.ts";
import { ecnReport } from "../stages/ecn-report.ts";

export const ecnFit = Pipeline.make({
  name: "ecn-fit",
  description: "fit the vanilla Gaussian-mixture ECN model to level-2 data and report it",
  defaults: { seed: 1, ecn: { data: {}, gmm: {} }, report: {} },
  // converged: the paper's 5 EM restarts (the fit has no training loop to stop).
  presets: { quick: { ecn: { gmm: { nInit: 1 } } }, converged: { ecn: { gmm: { nInit: 5 } } }, paper: { ecn: { gmm: { nInit: 5 } } } },
  build: (p) => {
    const l2 = p.node("load-l2", loadL2, {}, "ecn.data");
    const model = p.node("fit-ecn-gmm", fitEcnGmm, { l2 }, "ecn.gmm");
    p.node("ecn-report", ecnReport, { l2, model }, "report");
  }
});
