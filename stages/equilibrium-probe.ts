/**
 * Stages `equilibrium-probe` and `emergent-equilibrium-probe`: is the trained LP policy a shared
 * equilibrium for the first LP (paper section 3.1)? The first plays the market frozen at a
 * calibrated profile, the second section 5.2's market with its trained LP and LT policies; in
 * both, LP supertype 1's agent deviates to each rule of a family of textbook market makers, played
 * as plain rules and with the policy's own exploration noise, and to the policy's mean action; the
 * stage reports the best rules' gains over the policy with their standard errors, every rule's
 * score, the market shares either way and the policy's remaining exploration
 * (core/calibration/rule-deviation.ts says why this complements the fine-tuning estimate the
 * stopping rule uses).
 */
import { Effect, Schema } from "effect";
import { frozenEcn, frozenGame, frozenMarket } from "../core/calibration/reequilibration.ts";
import { probeRuleDeviations } from "../core/calibration/rule-deviation.ts";
import { OtcEnv } from "../core/otc/env.ts";
import { ecnVariationModelOf } from "../core/otc/rollout-env.ts";
import { jsonCodec } from "../core/pipeline/codecs/json.ts";
import { Rng } from "../core/pipeline/rng.ts";
import { Stage } from "../core/pipeline/stage.ts";
import { trainingStateCodec } from "../schemas/calibration-artifacts.ts";
import { ecnModelCodec } from "../schemas/ecn-artifacts.ts";
import { ecnSimModelCodec } from "../schemas/ecn-neural-artifacts.ts";
import { EquilibriumProbe } from "../schemas/equilibrium-probe.ts";
import { SharedTrainingParams, sharedGameConfig, sharedLoopStateCodec } from "../schemas/shared-training.ts";
import { calibrationEnv, ecnSpecOf } from "./support/calibration.ts";
import { learnerSpecs, liveAgent, restoredAgents } from "./support/learners.ts";
import { trainSharedSetup } from "./support/shared-training.ts";

const batches = (fallback: number, description: string) =>
  Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 1000)), { default: () => fallback }).annotations({ description });
const grid = (fallback: readonly number[], low: number, high: number, description: string) =>
  Schema.optionalWith(Schema.NonEmptyArray(Schema.Number.pipe(Schema.between(low, high))), { default: () => [fallback[0]!, ...fallback.slice(1)] as const }).annotations({ description });

export const EquilibriumProbeParams = Schema.Struct({
  spreads: grid([-0.9, -0.7, -0.5, -0.3, -0.1, 0.1], -1, 10, "eps_spread values of the market-maker rules the first LP deviates to."),
  skews: grid([0, 0.03, 0.06, 0.1, 0.2], 0, 10, "Inventory skew slopes k of the rules: eps_skew = -k x inventory / 100 lots."),
  episodes: batches(50, "Episodes per batch."),
  selectionBatches: batches(2, "Batches each rule is scored on to pick the best one."),
  evaluationBatches: batches(4, "Fresh batches on which the best rule and the policy are compared.")
});

const probeOutput = {
  output: jsonCodec(EquilibriumProbe),
  exports: [{ name: "probe", extension: "json", encode: (value: EquilibriumProbe) => new TextEncoder().encode(JSON.stringify(value, null, 2)) }]
};

export const equilibriumProbe = Stage.make({
  name: "equilibrium-probe",
  description: "the first LP's gain from deviating to the best of a family of market-maker rules (section 3.1)",
  source: import.meta.url,
  params: EquilibriumProbeParams,
  inputs: { model: ecnModelCodec, sim: ecnSimModelCodec, trained: trainingStateCodec },
  ...probeOutput,
  run: (inputs, p) =>
    Effect.gen(function* () {
      const rng = (yield* Rng).stream;
      const trained = inputs.trained;
      const market = frozenMarket(trained, []);
      const ecn = frozenEcn(market, ecnSpecOf(inputs.model, inputs.sim));
      // The LP policy as trained, on the backend it was trained on (recorded in the state's params).
      const [lp] = yield* learnerSpecs(calibrationEnv(trained.params, ecn), () => trained.params.ppo);
      const agent = yield* liveAgent(lp!, trained.lp);
      return yield* Stage.attempt("equilibrium-probe", (): EquilibriumProbe => {
        const env = new OtcEnv({ config: frozenGame(market), batchSize: p.episodes, ecnModel: ecnVariationModelOf(ecn) });
        // LP supertype 1 is the episode's first LP in every calibration experiment.
        const result = probeRuleDeviations(env, [agent], { ...p, agent: 0 }, rng);
        return { market: `experiment ${trained.experiment}`, iterations: trained.iteration, ...result, logStdFloor: trained.params.ppo.network.gaussian.logStdMin };
      });
    })
});

export const emergentEquilibriumProbe = Stage.make({
  name: "emergent-equilibrium-probe",
  description: "section 5.2's first LP against the best of a family of market-maker rules (section 3.1)",
  source: import.meta.url,
  /** `training` is read where the training params sit, to rebuild the game and the learners. */
  params: Schema.Struct({ training: SharedTrainingParams, probe: EquilibriumProbeParams }),
  inputs: { model: ecnModelCodec, shared: sharedLoopStateCodec },
  ...probeOutput,
  run: (inputs, p) =>
    Effect.gen(function* () {
      const rng = (yield* Rng).stream;
      // The trained policies, restored on the backend they were trained on.
      const { learners } = yield* trainSharedSetup(inputs.model, p.training);
      const policies = yield* restoredAgents(learners, inputs.shared.agents);
      return yield* Stage.attempt("emergent-equilibrium-probe", (): EquilibriumProbe => {
        const env = new OtcEnv({ config: sharedGameConfig(p.training), batchSize: p.probe.episodes, ecnModel: ecnVariationModelOf({ kind: "gmm", data: inputs.model }) });
        if (env.classes.map((c) => c.name).join() !== learners.map((l) => l.name).join()) throw new Error(`the game's classes (${env.classes.map((c) => c.name).join(", ")}) are not the trained ones (${learners.map((l) => l.name).join(", ")})`);
        const result = probeRuleDeviations(env, policies, { ...p.probe, agent: 0 }, rng);
        return { market: "section 5.2", iterations: inputs.shared.iteration, ...result, logStdFloor: learners[env.lpClassIndex]!.ppo.network.gaussian.logStdMin };
      });
    })
});
