/**
 * Body stage `ppo-update` (paper eq. 10; CleanRL's PPO): each learning class's shared policy takes
 * one PPO update (clipped surrogate, adaptive KL penalty, value and entropy terms, SGD passes over
 * minibatches) on its class's batch; classes not learning keep their state. Gives the policies'
 * new plain states and each learning class's figures. Class c draws its minibatch shuffles from
 * the split `c` of the step's stream.
 */
import { Effect, Schema } from "effect";
import { Rng } from "../../core/pipeline/rng.ts";
import { Stage } from "../../core/pipeline/stage.ts";
import { ppoUpdate, type PpoMetrics } from "../../core/rl/ppo.ts";
import type { RolloutBatch } from "../../core/rl/rollout.ts";
import { arrayCodec, policiesCodec, ppoUpdateResultCodec, type Policies, type PpoUpdateResult } from "../../schemas/loop-artifacts.ts";
import { liveAgent, stateOfLive, type LearnerSpec } from "../support/learners.ts";

export const ppoUpdateStage = Stage.make({
  name: "ppo-update",
  description: "one PPO update of each learning class's shared policy on its batch",
  source: import.meta.url,
  params: Schema.Struct({
    learning: Schema.Array(Schema.String).annotations({ description: "Classes whose policy is updated; the others keep theirs." })
  }),
  inputs: { learners: arrayCodec<readonly LearnerSpec[]>("learners"), policies: policiesCodec, batches: arrayCodec<readonly RolloutBatch[]>("batches") },
  output: ppoUpdateResultCodec,
  run: (inputs, p) =>
    Effect.gen(function* () {
      const rng = (yield* Rng).stream;
      const policies: Record<string, Policies[string]> = { ...inputs.policies };
      const metrics: Record<string, PpoMetrics> = {};
      for (const [c, spec] of inputs.learners.entries()) {
        if (!p.learning.includes(spec.name)) continue;
        const agent = yield* liveAgent(spec, inputs.policies[spec.name]!);
        metrics[spec.name] = yield* Stage.attempt("ppo-update", () => ppoUpdate(agent, inputs.batches[c]!, spec.ppo, rng.split(c)));
        policies[spec.name] = yield* stateOfLive(spec, agent);
      }
      return { policies, metrics } satisfies PpoUpdateResult;
    })
});
