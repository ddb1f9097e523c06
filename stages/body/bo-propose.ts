/**
 * Body stage `bo-propose` (paper section 5.1's baseline): every M iterations the Bayesian optimiser
 * observes the mean reward r_cal of the episodes played at its current profile, fits its Gaussian
 * process over all (Lambda, reward) pairs and proposes the next Lambda by its acquisition (UCB);
 * in between the profile stays. Its proposals draw from a stream of their own, indexed by the
 * number of observations (the node's `init/bo` stream, the same every iteration).
 */
import { Schema } from "effect";
import { defaultBayesOptParams } from "../../core/calibration/bayes-opt.ts";
import { mean, type BoLoopState } from "../../core/calibration/loop.ts";
import { Rng } from "../../core/pipeline/rng.ts";
import { Stage } from "../../core/pipeline/stage.ts";
import { Effect } from "effect";
import { CalibrationParams } from "../../schemas/calibration.ts";
import { objectCodec, plainCodec } from "../../schemas/loop-artifacts.ts";
import { boOptimizer } from "../support/calibration.ts";

export const boPropose = Stage.make({
  name: "bo-propose",
  description: "BO: every M iterations, observe the mean r_cal at the current profile and propose the next by UCB",
  source: import.meta.url,
  params: CalibrationParams.pipe(Schema.pick("experiment", "bo")),
  inputs: {
    bo: objectCodec<BoLoopState>("bo"),
    rewards: plainCodec<Float64Array>("rewards", (v) => v instanceof Float64Array),
    iteration: plainCodec<number>("iteration", (v) => typeof v === "number")
  },
  output: objectCodec<BoLoopState>("bo"),
  run: (inputs, p) =>
    Effect.gen(function* () {
      const state = inputs.bo;
      // The iteration being run is `iteration`; a proposal is due once it reaches `nextProposal`.
      if (inputs.iteration < state.nextProposal) return state;
      const rng = (yield* Rng).stream;
      return yield* Stage.attempt("bo-propose", (): BoLoopState => {
        const optimizer = boOptimizer({ experiment: p.experiment, bo: { ...defaultBayesOptParams, acquisition: p.bo.acquisition, kappa: p.bo.kappa } }, state.optimizer, rng);
        optimizer.observe(state.current, mean(inputs.rewards));
        const current = Float64Array.from(optimizer.suggest());
        return { optimizer: optimizer.getState(), current, nextProposal: state.nextProposal + p.bo.every };
      });
    })
});
