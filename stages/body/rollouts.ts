/**
 * Body stage `rollouts` (paper section 5: B episodes per iteration): the current shared policies
 * play B episodes of the env an env description names, cut into shards of `episodesPerShard` on
 * the run's rollout executor (worker threads, BullMQ, or this thread; never a different result),
 * each episode with its own per-episode input when given (e.g. its supertype profile). Gives the
 * batch of each class and the env's per-shard extras (episode outcomes); exported as a Parquet
 * table of samples when the run keeps rollouts.
 */
import { Effect, Schema } from "effect";
import { tableToParquet } from "../../core/pipeline/codecs/parquet.ts";
import { Rng } from "../../core/pipeline/rng.ts";
import { Stage } from "../../core/pipeline/stage.ts";
import { arrayCodec, nullableCodec, objectCodec, policiesCodec, rolloutOutputCodec, rolloutTable, type RolloutOutput } from "../../schemas/loop-artifacts.ts";
import { defaultRolloutSettings, EpisodesPerShard, RolloutSettings } from "../../schemas/rollouts.ts";
import { liveAgent, liveRunner, type LearnerSpec, type RolloutEnvSpec } from "../support/learners.ts";

export const RolloutsParams = Schema.Struct({
  episodes: Schema.Int.pipe(Schema.positive()).annotations({ description: "B: episodes per call." }),
  episodesPerShard: EpisodesPerShard.annotations({ description: "Episodes per shard (fixes the shard layout, and so the results)." }),
  rollouts: Schema.optionalWith(RolloutSettings, { default: defaultRolloutSettings }).annotations({ description: "Where shards run; never changes results." })
});

export const rollouts = Stage.make({
  name: "rollouts",
  description: "B episodes played by the current policies, sharded over the run's rollout executor",
  source: import.meta.url,
  params: RolloutsParams,
  executionParams: ["rollouts"],
  inputs: {
    env: objectCodec<RolloutEnvSpec>("env"),
    learners: arrayCodec<readonly LearnerSpec[]>("learners"),
    policies: policiesCodec,
    episodeInputs: nullableCodec<readonly unknown[]>("episode-inputs")
  },
  output: rolloutOutputCodec,
  exports: [{ name: "rollouts", extension: "parquet", encode: (output: RolloutOutput) => tableToParquet(rolloutTable(output)) }],
  run: (inputs, p) =>
    Effect.gen(function* () {
      const runner = yield* liveRunner(inputs.env, p.episodes, p.episodesPerShard, p.rollouts);
      const agents = yield* Effect.forEach(inputs.learners, (spec) => liveAgent(spec, inputs.policies[spec.name]!));
      const rng = (yield* Rng).stream;
      const result = yield* Stage.attemptPromise("rollouts", () =>
        runner.collect(
          agents,
          rng,
          inputs.learners.map((l) => l.ppo),
          inputs.episodeInputs ?? undefined
        )
      );
      return { classes: inputs.learners.map((l) => l.name), batches: result.batches, extras: result.extras } satisfies RolloutOutput;
    })
});
