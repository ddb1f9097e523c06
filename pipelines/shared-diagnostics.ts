/**
 * Pipeline `shared-diagnostics` (paper section 3.1): trains the shared LP/LT policies on
 * a population, then estimates exploitability (fine-tune one agent against frozen others) and
 * reports the reward over training per supertype (the extended-transitivity check: monotone or
 * cyclic).
 */
import { Pipeline } from "../core/pipeline/pipeline.ts";
import { trainingResources, type TrainingServices } from "../stages/support/resources.ts";
import { fitEcnGmm, loadL2 } from "../stages/ecn.ts";
import { exploitabilityStage, trainShared } from "../stages/shared.ts";
import { sharedReport } from "../stages/shared-report.ts";

export const sharedDiagnostics = Pipeline.make<TrainingServices>({
  name: "shared-diagnostics",
  description: "shared LP/LT policies: reward over training per supertype and exploitability (section 3.1)",
  defaults: { seed: 1, ecn: { data: {}, gmm: { nInit: 1 } }, shared: { training: {}, exploitability: {} }, report: {} },
  resources: trainingResources,
  build: (p) => {
    const l2 = p.node("load-l2", loadL2, {}, "ecn.data");
    const model = p.node("fit-ecn-gmm", fitEcnGmm, { l2 }, "ecn.gmm");
    const shared = p.loop("train-shared", trainShared, { model }, "shared.training");
    const exploitability = p.node("exploitability", exploitabilityStage, { model, shared }, "shared");
    p.node("shared-report", sharedReport, { shared, exploitability }, "report");
  }
});
