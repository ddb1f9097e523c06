/**
 * Pipeline `lt-spectrum` (paper section 3.1, figure 2): train one shared LT policy
 * on a fixed ECN mid path with the PnL weight omega drawn uniformly in [0, 1], then evaluate it at
 * omega = 0, 0.25, 0.75, 1 and report the realised sell/buy fractions, the PnL and one price-path
 * panel per omega with the buy/sell actions.
 *
 * Presets. `quick` (the default) finishes in a few minutes on 2 cores: B = 16 episodes of 8 LTs,
 * T = 100, 150 iterations, [64, 64] networks, 4 SGD passes over minibatches of 1,024, learning
 * rate 3e-4, GAE lambda 1 (the paper's PPO setting; lambda 0.95 was measured to leave omega = 0 ~9 points
 * short of q^a: the myopic bias of an imperfect value function on this shaped reward) and an
 * entropy bonus of 0.01 (without it the policy turned deterministic within ~50 iterations, before
 * the omega = 0 end of the spectrum had converged). `paper` uses the paper's PPO (
 * [256, 256], lr 1e-4, 30 passes of 128, no entropy bonus), B = 60 and 2,000 iterations (the
 * paper does not state figure 2's budget).
 */
import { Pipeline } from "../core/pipeline/pipeline.ts";
import { trainingResources, type TrainingServices } from "../stages/support/resources.ts";
import type { ParamTree } from "../core/pipeline/params.ts";
import { trainLtSpectrum } from "../stages/lt-spectrum.ts";
import { ltSpectrumReport } from "../stages/lt-spectrum-report.ts";

const paper: ParamTree = {
  training: {
    iterations: 2000,
    checkpointEvery: 100,
    episodes: 60,
    ppo: { learningRate: 1e-4, sgdPasses: 30, minibatchSize: 128, hidden: [256, 256], entropyCoeff: 0 }
  },
  report: { evaluationEpisodes: 64 }
};

/**
 * `converged`: the quick PPO for 2,000 iterations, evaluated on 64 episodes per omega. Not stopped
 * on the diagnostics: the LT policy's mean reward, pooled over omega, is flat within noise from
 * iteration ~250 (where the rule stops it) while its omega = 0 end still moves 0.04 towards its
 * targets (sells 0.21 / buys 0.79 at 250, 0.25 / 0.75 at 2,000); 2,000 iterations take ~3 minutes.
 */
const converged: ParamTree = {
  training: { iterations: 2000, checkpointEvery: 50, stopping: { rule: "fixed", window: 100, minIterations: 200, every: 50 } },
  report: { evaluationEpisodes: 64 }
};

export const ltSpectrum = Pipeline.make<TrainingServices>({
  name: "lt-spectrum",
  description: "figure 2: the shared LT policy's actions as a function of its PnL weight omega",
  defaults: { seed: 1, training: { ppo: { entropyCoeff: 0.01 } }, report: {} },
  presets: { quick: {}, converged, paper },
  resources: trainingResources,
  build: (p) => {
    const trained = p.loop("train-lt-spectrum", trainLtSpectrum, {}, "training");
    p.node("lt-spectrum-report", ltSpectrumReport, { trained }, { training: "training", report: "report" });
  }
});
