/**
 * Body stage `game-weights` of a figure 6 game (paper section 3.2, definition 3.17): on the
 * iterations it is due (the first, then every `analysisEvery`), the policies just updated play a
 * batch of episodes of their own and the Hamiltonian weights omega_A and omega_S of every pair of
 * players are measured (core/analysis/game-analysis.ts); on the others it gives no rows.
 */
import { Effect, Schema } from "effect";
import { figure6Config, measureGameWeights, type GameWeightRow } from "../../core/analysis/game-analysis.ts";
import { OtcEnv } from "../../core/otc/env.ts";
import { ecnVariationModelOf } from "../../core/otc/rollout-env.ts";
import { Rng } from "../../core/pipeline/rng.ts";
import { Stage } from "../../core/pipeline/stage.ts";
import { ecnModelCodec } from "../../schemas/ecn-artifacts.ts";
import { GameTrainingParams } from "../../schemas/emergent.ts";
import { arrayCodec, plainCodec, policiesCodec } from "../../schemas/loop-artifacts.ts";
import { liveAgent, type LearnerSpec } from "../support/learners.ts";

export const gameWeights = Stage.make({
  name: "game-weights",
  description: "the Hamiltonian weights omega_A / omega_S of every pair of players, measured on a batch of their own (figure 6)",
  source: import.meta.url,
  params: GameTrainingParams.pipe(Schema.pick("game", "lpRiskAversion", "horizon", "analysisEvery", "analysisEpisodes")),
  inputs: { model: ecnModelCodec, learners: arrayCodec<readonly LearnerSpec[]>("learners"), policies: policiesCodec, iteration: plainCodec<number>("iteration", (v) => typeof v === "number") },
  output: arrayCodec<readonly GameWeightRow[]>("game-weights"),
  run: (inputs, p) =>
    Effect.gen(function* () {
      if (inputs.iteration !== 1 && inputs.iteration % p.analysisEvery !== 0) return [];
      const agents = yield* Effect.forEach(inputs.learners, (spec) => liveAgent(spec, inputs.policies[spec.name]!));
      const rng = (yield* Rng).stream;
      const env = new OtcEnv({ config: figure6Config(p.game, p.lpRiskAversion, p.horizon), batchSize: p.analysisEpisodes, ecnModel: ecnVariationModelOf({ kind: "gmm", data: inputs.model }) });
      return yield* Stage.attemptPromise("game-weights", () => measureGameWeights(env, agents, rng, inputs.iteration));
    })
});
