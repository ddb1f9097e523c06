/**
 * Set-up of figure 2's LT spectrum (paper section 3.1, eq. 6) shared by `train-lt-spectrum` and
 * `lt-spectrum-report`: the spectrum's setup for the stage params, its env as data (the rollout
 * factory of core/analysis/lt-spectrum.ts), and the learners (the LT's networks on the backend the
 * run's NetworkBackend resolved; the disconnected LP a tiny frozen network on the same backend).
 * Not a stage: stage modules import it, it imports no stage module.
 */
import { Effect } from "effect";
import { ltSpectrumRolloutLocation, type LtSpectrumSetup } from "../../core/analysis/lt-spectrum.ts";
import type { LtSpectrumTrainingParams } from "../../schemas/lt-spectrum.ts";
import { PpoSettings as PpoSettingsSchema, ppoParamsFrom } from "../../schemas/ppo.ts";
import type { NetworkBackendName } from "./network-backend.ts";
import { resolvePpoBackend } from "./network-backend.ts";
import { sharedSetup } from "./shared-training.ts";

export const setupFrom = (p: LtSpectrumTrainingParams): LtSpectrumSetup => ({
  horizon: p.horizon,
  episodes: p.episodes,
  ltsPerEpisode: p.ltsPerEpisode,
  qA: p.qA,
  qB: p.qB,
  eta: p.eta,
  path: p.path.kind === "sine" ? { kind: "sine", amplitudeTicks: p.path.amplitudeTicks, cycles: p.path.cycles } : { kind: "walk", stepTicks: p.path.stepTicks, seed: p.path.seed },
  spreadTicks: p.spreadTicks
});

/** The disconnected LP never matters; a tiny frozen network (on the LTs' backend) keeps its per-step cost negligible. */
const lpPpo = (backend: NetworkBackendName) => ppoParamsFrom(PpoSettingsSchema.make({ hidden: [4], backend }));

/** The spectrum's env, learners and labels; an explicit backend that cannot load fails here with one sentence. */
export const ltSpectrumSetup = (p: LtSpectrumTrainingParams) =>
  Effect.gen(function* () {
    const ppo = yield* resolvePpoBackend(p.ppo);
    const lt = ppoParamsFrom(ppo);
    const lp = lpPpo(ppo.backend);
    return yield* sharedSetup({ location: ltSpectrumRolloutLocation, args: { setup: setupFrom(p) } }, p.episodes, (c) => (c === "lt" ? lt : lp));
  });
