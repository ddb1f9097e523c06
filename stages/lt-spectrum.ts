/**
 * Figure 2 of the paper (section 3.1, eq. 6): the spectrum of actions of ONE shared
 * LT policy conditioned on its PnL weight omega. Learning LTs trade on an ECN whose mid follows a
 * FIXED path (the same deterministic curve every episode: the book is rebuilt symmetrically around
 * it each step, so LT orders never move it); no LP is connected. The policy is trained with omega
 * drawn uniformly in [0, 1] every episode and quantity targets q^a = 0.25 (sells), q^b = 0.75
 * (buys), then evaluated at fixed omegas: at omega = 0 it should hit the targets, at omega = 1 it
 * should buy low and sell high. This module is the loop `train-lt-spectrum` (checkpointed like
 * train-calsheq, over core/rl/shared-trainer.ts); `lt-spectrum-report` (evaluation, one
 * price-path panel per omega with buy/sell markers, and the realised fractions and PnL) is in
 * stages/lt-spectrum-report.ts so that editing it does not re-run the training. The ECN driver,
 * the population and the evaluation both use are in stages/support/lt-spectrum.ts.
 */
import { Effect } from "effect";
import { Stage } from "../core/pipeline/stage.ts";
import { LtSpectrumTrainingParams } from "../schemas/lt-spectrum.ts";
import { sharedLoopStateCodec, type SharedLoopState } from "../schemas/shared-training.ts";
import { freshLtTrainer } from "./support/lt-spectrum.ts";
import { sharedLoopStep } from "./support/shared-training.ts";

export const trainLtSpectrum = Stage.loop({
  name: "train-lt-spectrum",
  description: "LT shared policy on a fixed mid path, omega ~ U[0, 1] (figure 2)",
  source: import.meta.url,
  params: LtSpectrumTrainingParams,
  scheduleParams: ["iterations", "checkpointEvery"],
  iterations: (p) => p.iterations,
  checkpointEvery: (p) => p.checkpointEvery,
  inputs: {},
  state: sharedLoopStateCodec,
  init: (_inputs, p) => Effect.map(freshLtTrainer(p), (trainer): SharedLoopState => ({ trainer })),
  step: (state, _inputs, p, context) =>
    Effect.gen(function* () {
      let trainer = state.trainer;
      if (trainer === undefined) {
        trainer = yield* freshLtTrainer(p);
        trainer.setState(state.saved!);
      }
      return yield* sharedLoopStep("train-lt-spectrum", trainer, context, (row) => `lt reward ${row["lt/charts/episode_reward_mean"]?.toFixed(3)} entropy ${row["lt/losses/entropy"]?.toFixed(3)}`);
    })
});
