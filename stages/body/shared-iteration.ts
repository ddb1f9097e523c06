/**
 * The iteration of shared-policy training (paper eq. 10; sections 2.2.1, 3.1, 5) as a fragment of
 * a loop body: B episodes of rollouts with the current policies, then one PPO update of each
 * learning class. `sharedSteps` declares the two steps in a body (the figure 6 games add their
 * analysis after them); `sharedBody` is the whole body of a loop whose state is the shared state
 * (core/rl/shared-loop.ts: `train-shared`, `train-lt-spectrum`). Not a stage: the loop modules
 * import it; it imports the body stages it wires.
 */
import type { Effect } from "effect";
import type { BodyBuilder, BodyRef, StreamPath } from "../../core/pipeline/loop-body.ts";
import { LoopBody } from "../../core/pipeline/loop-body.ts";
import type { StageServices, TaggedFailure } from "../../core/pipeline/stage.ts";
import type { PpoAgentState } from "../../core/rl/ppo.ts";
import { advanceStopping, initialStopping, stoppingRule } from "../../core/analysis/stopping.ts";
import { nextSharedState, sharedRewardCurves, type SharedLoopState } from "../../core/rl/shared-loop.ts";
import type { StoppingSettings } from "../../schemas/stopping.ts";
import type { PpoUpdateResult, RolloutOutput } from "../../schemas/loop-artifacts.ts";
import type { RolloutSettings } from "../../schemas/rollouts.ts";
import type { TrainingServices } from "../support/resources.ts";
import type { SharedSetup } from "../support/shared-training.ts";
import { ppoUpdateStage } from "./ppo-update.ts";
import { rollouts } from "./rollouts.ts";

/** How a loop's rollouts are cut and where they run, and which classes learn. */
export interface SharedStepParams {
  readonly episodes: number;
  readonly episodesPerShard: number;
  readonly rollouts: RolloutSettings;
  readonly learning: readonly string[];
}

/**
 * Declares the two steps of a shared-policy iteration in `b`: rollouts of the current `policies`,
 * then a PPO update of the learning classes, their streams under `stream` of the iteration's.
 */
export const sharedSteps = <P, I, S>(
  b: BodyBuilder<P, I, S, TrainingServices>,
  setup: BodyRef<SharedSetup>,
  policies: BodyRef<Readonly<Record<string, PpoAgentState>>>,
  params: (p: P) => SharedStepParams,
  stream: StreamPath = []
): { played: BodyRef<RolloutOutput>; updated: BodyRef<PpoUpdateResult> } => {
  const learners = b.field(setup, "learners");
  const played = b.step(
    "rollouts",
    rollouts,
    { env: b.field(setup, "env"), learners, policies, episodeInputs: b.field(setup, "episodeInputs") },
    { params: (p) => {
        const { episodes, episodesPerShard, rollouts: settings } = params(p);
        return { episodes, episodesPerShard, rollouts: settings };
      }, stream: { from: "iteration", path: [...stream, "rollouts"] } }
  );
  const updated = b.step("ppo-update", ppoUpdateStage, { learners, policies, batches: b.field(played, "batches") }, { params: (p) => ({ learning: params(p).learning }), stream: { from: "iteration", path: [...stream, "update"] } });
  return { played, updated };
};

/**
 * The body of a loop whose state is the shared state: rollouts -> ppo-update, then the row. With
 * `stopping` (the loop's stopping params), the `converged` rule's slope test on each learning
 * class's mean reward decides when the loop stops (no deviation test: for loops whose agents do
 * not interact, as the LT spectrum's, deviating is further training and the slopes say it all).
 */
export const sharedBody = <P, I>(
  setupOf: (p: P, inputs: I) => Effect.Effect<SharedSetup, TaggedFailure, StageServices | TrainingServices>,
  params: (p: P) => SharedStepParams,
  describe: (row: Record<string, number>) => string,
  stopping?: (p: P) => StoppingSettings
) =>
  LoopBody.make<P, I, SharedLoopState, TrainingServices>((b) => {
    const setup = b.setup("setup", setupOf);
    const { played, updated } = sharedSteps(b, setup, b.field(b.state, "agents"), params);
    return b.finish({ state: b.state, setup, played, updated }, (v, { params: p, seconds }) => {
      const { state, row } = nextSharedState(v.state, { classes: v.played.classes, batches: v.played.batches, episodes: params(p).episodes, metrics: v.updated.metrics, agents: v.updated.policies, labels: v.setup.labels });
      const envSteps = params(p).episodes * (v.played.batches[0]?.steps ?? 0);
      const settings = stopping?.(p);
      const progress =
        settings === undefined || (settings.rule === "fixed" && v.state.stopping === undefined)
          ? undefined
          : advanceStopping(v.state.stopping ?? initialStopping(settings.rule), () => sharedRewardCurves(state.rows, params(p).learning), state.iteration, stoppingRule(settings), null);
      const stopped = progress?.decision === "converged" ? " | converged" : "";
      return {
        state: progress === undefined ? state : { ...state, stopping: progress },
        metrics: { ...row, "charts/env_steps_per_second": envSteps / seconds },
        status: `${describe(row)} | ${(envSteps / seconds).toFixed(0)} env steps/s${stopped}`
      };
    });
  });
