/**
 * Pipeline `shared-diagnostics` (paper section 3.1): trains the shared LP/LT policies on
 * a population, then estimates exploitability (fine-tune one agent against frozen others) and
 * reports the reward over training per supertype (the extended-transitivity check: monotone or
 * cyclic). Presets: `quick` (the defaults: 50 iterations) and `converged` (training stops on the
 * equilibrium diagnostics, core/analysis/stopping.ts).
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
  presets: {
    quick: {},
    // Trained until each class's mean reward is flat over 100 iterations and a deviating LP gains
    // nothing beyond 2 standard errors (checked every 50 from iteration 300; cap 3,000), then a
    // longer exploitability estimate.
    converged: {
      ecn: { gmm: { nInit: 5 } },
      shared: {
        training: { iterations: 3000, checkpointEvery: 50, stopping: { rule: "converged", window: 100, minIterations: 300, every: 50 } },
        exploitability: { fineTuneIterations: 50, evaluationBatches: 10 }
      }
    }
  },
  resources: trainingResources,
  build: (p) => {
    const l2 = p.node("load-l2", loadL2, {}, "ecn.data");
    const model = p.node("fit-ecn-gmm", fitEcnGmm, { l2 }, "ecn.gmm");
    const shared = p.loop("train-shared", trainShared, { model }, "shared.training");
    const exploitability = p.node("exploitability", exploitabilityStage, { model, shared }, "shared");
    p.node("shared-report", sharedReport, { shared, exploitability }, "report");
  }
});
