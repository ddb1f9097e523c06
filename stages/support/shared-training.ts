/**
 * Set-up shared by the stages that train shared policies (paper sections 2.2.1, 3.1, 5): a
 * core/rl/shared-trainer.ts trainer over sharded rollouts for given training params, a live
 * trainer for a loop state read back from its checkpoint, and one loop iteration with its
 * progress line. Not a stage: stage modules import it, it imports no stage module.
 */
import { Effect } from "effect";
import type { OtcEnv } from "../../core/otc/env.ts";
import { otcRolloutEnv, otcRolloutLocation } from "../../core/otc/rollout-env.ts";
import type { Random } from "../../core/random/philox.ts";
import type { ShardExecutor } from "../../core/rl/rollout-executor.ts";
import { RolloutRunner, type RolloutSource } from "../../core/rl/rollout-runner.ts";
import { otcSupertypeLabels, SharedTrainer, type SharedIterationRow } from "../../core/rl/shared-trainer.ts";
import { Rng } from "../../core/pipeline/rng.ts";
import { Stage, type LoopContext } from "../../core/pipeline/stage.ts";
import type { EcnModel } from "../../schemas/ecn.ts";
import { ppoParamsFrom } from "../../schemas/ppo.ts";
import { sharedGameConfig, type SharedLoopState, type SharedTrainingParams } from "../../schemas/shared-training.ts";

/** A live trainer for a loop state: the state's own, or a fresh one restored from its checkpoint. */
export const liveTrainer = (state: SharedLoopState, make: () => SharedTrainer): SharedTrainer => {
  if (state.trainer !== undefined) return state.trainer;
  const trainer = make();
  trainer.setState(state.saved!);
  return trainer;
};

/** One loop iteration over a SharedTrainer, with the progress line. */
export const sharedLoopStep = (stage: string, trainer: SharedTrainer, context: LoopContext, describe: (row: SharedIterationRow) => string) =>
  Effect.gen(function* () {
    const rng = (yield* Rng).stream.split("iterations").split(context.iteration);
    const started = performance.now();
    const row = yield* Stage.attemptPromise(stage, () => trainer.iterate(rng));
    const seconds = (performance.now() - started) / 1000;
    const envSteps = trainer.options.episodes * trainer.env.horizon;
    context.metrics({ ...row, "charts/env_steps_per_second": envSteps / seconds });
    context.status(`${describe(row)} | ${(envSteps / seconds).toFixed(0)} env steps/s`);
    return { trainer } satisfies SharedLoopState;
  });

/** A shared trainer drawing its episodes from `source`; `probe` is an env of the same population. */
export const sharedTrainerOver = (source: RolloutSource, probe: OtcEnv, p: SharedTrainingParams, rng: Random): SharedTrainer =>
  new SharedTrainer(
    source,
    {
      ppo: { lp: ppoParamsFrom(p.lp), lt: ppoParamsFrom(p.lt) },
      defaultPpo: ppoParamsFrom(p.lp),
      learning: p.learning.filter((c) => source.classes.some((s) => s.name === c)),
      episodes: p.episodes,
      labels: otcSupertypeLabels(probe, p.episodes)
    },
    rng
  );

/** The trainer of `train-shared`, its rollouts sharded over `workers` threads (0: this thread) or on `executor`. */
export const makeSharedTrainer = (
  model: EcnModel,
  p: SharedTrainingParams,
  rng: Random,
  execution: { readonly workers: number; readonly backend?: "wasm" | "cpu"; readonly executor?: ShardExecutor } = { workers: 0 }
): SharedTrainer => {
  const runner = new RolloutRunner({
    factory: otcRolloutEnv,
    location: otcRolloutLocation,
    args: { config: sharedGameConfig(p), ecn: { kind: "gmm", data: model } },
    episodes: p.episodes,
    episodesPerShard: p.episodesPerShard,
    ...execution
  });
  return sharedTrainerOver(runner, runner.probe, p, rng);
};
