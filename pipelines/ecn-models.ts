/**
 * Pipeline `ecn-models` (paper section 2.3, table 2): level-2 data -> vanilla
 * Gaussian-mixture ECN model -> neural ECN models with fixed and shared correlation (loop stages,
 * one epoch per iteration, checkpointed) -> scores of the three models on the same chronological
 * split, and their paired test differences with 95% intervals over consecutive test blocks ->
 * report (table 2, the differences and the training curves). Synthetic data unless `--set
 * ecn.data.source=lobster --set ecn.data.path=FILE`. Presets: `quick` (a few epochs, minutes on two
 * cores) and `paper` (the paper's schedule: lr 1e-3 to epoch 110 then 1e-4, early stopping, up to
 * 20,000 epochs as the paper reports training about that long).
 */
import { Pipeline } from "../core/pipeline/pipeline.ts";
import { fitEcnGmm, loadL2 } from "../stages/ecn.ts";
import { compareEcnModels, ecnModelsReport, scoreEcnModels, trainEcnNeuralFixed, trainEcnNeuralShared } from "../stages/ecn-neural.ts";

export const ecnModels = Pipeline.make({
  name: "ecn-models",
  description: "vanilla vs neural ECN models (LSTM mixture density, fixed/shared correlation): table 2",
  // The defaults are the quick scale, as in every pipeline; `--preset paper` gives the paper's.
  defaults: {
    seed: 1,
    ecn: { data: {}, gmm: { nInit: 1 }, neural: { train: { maxEpochs: 12, patience: 5, checkpointEvery: 4 }, score: {}, report: {} } }
  },
  presets: {
    quick: { ecn: { gmm: { nInit: 1 }, neural: { train: { maxEpochs: 12, patience: 5, checkpointEvery: 4 } } } },
    // Early stopping decides: up to 2,000 epochs, stopping after 30 without a better validation score.
    converged: { ecn: { gmm: { nInit: 5 }, neural: { train: { maxEpochs: 2000, patience: 30, checkpointEvery: 10 } } } },
    paper: { ecn: { gmm: { nInit: 5 }, neural: { train: { maxEpochs: 20_000, patience: 100, checkpointEvery: 10 } } } }
  },
  build: (p) => {
    const l2 = p.node("load-l2", loadL2, {}, "ecn.data");
    const model = p.node("fit-ecn-gmm", fitEcnGmm, { l2 }, "ecn.gmm");
    const fixed = p.loop("train-ecn-neural-fixed", trainEcnNeuralFixed, { l2, model }, "ecn.neural.train");
    const shared = p.loop("train-ecn-neural-shared", trainEcnNeuralShared, { l2, model }, "ecn.neural.train");
    const scores = p.node("score-ecn-models", scoreEcnModels, { l2, model, fixed, shared }, "ecn.neural.score");
    const comparison = p.node("compare-ecn-models", compareEcnModels, { l2, model, fixed, shared }, "ecn.neural.compare");
    p.node("ecn-models-report", ecnModelsReport, { scores, comparison, fixed, shared }, "ecn.neural.report");
  }
});
