/**
 * Figure 2 of the paper (section 3.1, eq. 6): the spectrum of actions of ONE shared
 * LT policy conditioned on its PnL weight omega. Learning LTs trade on an ECN whose mid follows a
 * FIXED path (the same deterministic curve every episode: the book is rebuilt symmetrically around
 * it each step, so LT orders never move it); no LP is connected. The policy is trained with omega
 * drawn uniformly in [0, 1] every episode and quantity targets q^a = 0.25 (sells), q^b = 0.75
 * (buys), then evaluated at fixed omegas: at omega = 0 it should hit the targets, at omega = 1 it
 * should buy low and sell high. This module is the loop `train-lt-spectrum`: plain-data state
 * (core/rl/shared-loop.ts) and the shared-policy body rollouts -> ppo-update (only the LT class
 * learns), checkpointed like train-calsheq; `lt-spectrum-report` (evaluation, one price-path panel
 * per omega with buy/sell markers, and the realised fractions and PnL) is in
 * stages/lt-spectrum-report.ts so that editing it does not re-run the training. The env and its
 * evaluation are in core/analysis/lt-spectrum.ts.
 */
import { Effect } from "effect";
import { stoppedOnDiagnostics } from "../core/analysis/stopping.ts";
import { Rng } from "../core/pipeline/rng.ts";
import { Stage } from "../core/pipeline/stage.ts";
import { LtSpectrumTrainingParams } from "../schemas/lt-spectrum.ts";
import { defaultRolloutSettings } from "../schemas/rollouts.ts";
import { sharedLoopStateCodec } from "../schemas/shared-training.ts";
import { sharedBody } from "./body/shared-iteration.ts";
import { ltSpectrumSetup } from "./support/lt-spectrum.ts";
import { initialAgents, initialSharedState } from "./support/shared-training.ts";

// One shard in this thread: a worker thread would cost more to start than the spectrum's small batch.
const inThread = { ...defaultRolloutSettings(), workers: 0 };

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
  init: (_inputs, p) =>
    Effect.gen(function* () {
      const { learners } = yield* ltSpectrumSetup(p);
      return initialSharedState(yield* initialAgents(learners, (yield* Rng).stream.split("init")));
    }),
  body: sharedBody<LtSpectrumTrainingParams, Record<string, never>>(
    (p) => ltSpectrumSetup(p),
    (p) => ({ episodes: p.episodes, episodesPerShard: p.episodes, rollouts: inThread, learning: ["lt"] }),
    (row) => `lt reward ${row["lt/charts/episode_reward_mean"]?.toFixed(3)} entropy ${row["lt/losses/entropy"]?.toFixed(3)}`,
    (p) => p.stopping
  ),
  // A run that stopped on its slope test is done whatever the cap.
  finished: (state) => stoppedOnDiagnostics(state.stopping)
});
