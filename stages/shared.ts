/**
 * Stages of shared-policy training and its diagnostics (paper sections 2.2.1, 3.1, 5):
 * the loop `train-shared` (plain-data state, core/rl/shared-loop.ts; each iteration the body
 * rollouts -> ppo-update of stages/body/, checkpointed like train-calsheq), `exploitability`
 * (fine-tune a copy of the shared policy for one agent while the others stay frozen, report the
 * gain; core/rl/exploitability.ts).
 * Their report, `shared-report`, is in its own module (stages/shared-report.ts) so that editing
 * it does not re-run the training. The training params, loop state, exploitability summary and
 * set-up, shared with other stages, live in schemas/shared-training.ts and
 * stages/support/shared-training.ts.
 */
import { Effect, Schema } from "effect";
import { jsonCodec } from "../core/pipeline/codecs/json.ts";
import { Rng } from "../core/pipeline/rng.ts";
import { Stage } from "../core/pipeline/stage.ts";
import type { EcnModel } from "../schemas/ecn.ts";
import { PpoSettings, ppoParamsFrom } from "../schemas/ppo.ts";
import { ecnModelCodec } from "../schemas/ecn-artifacts.ts";
import { ExploitabilitySummary, SharedTrainingParams, sharedLoopStateCodec } from "../schemas/shared-training.ts";
import { sharedSteps } from "./body/shared-iteration.ts";
import { deviationSettingsOf } from "./body/exploitability-check.ts";
import { sharedExploitabilityCheck } from "./body/shared-exploitability-check.ts";
import { validateConvergenceRule } from "../core/analysis/convergence.ts";
import { advanceStopping, initialStopping, stoppedOnDiagnostics, stoppingDeviationDue, stoppingRule } from "../core/analysis/stopping.ts";
import { LoopBody } from "../core/pipeline/loop-body.ts";
import { nextSharedState, sharedRewardCurves, type SharedLoopState } from "../core/rl/shared-loop.ts";
import type { TrainingServices } from "./support/resources.ts";
import { restoredAgents } from "./support/learners.ts";
import { initialAgents, initialSharedState, sharedDeviationGain, trainSharedSetup } from "./support/shared-training.ts";

const PositiveInt = Schema.Int.pipe(Schema.positive());
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative());
const opt = <A, I>(schema: Schema.Schema<A, I>, value: A) => Schema.optionalWith(schema, { default: () => value });

/** PPO settings of one class: the project-wide schema (schemas/ppo.ts). */
export const PpoSettingsSchema = PpoSettings;
const defaultSettings = (): PpoSettings => PpoSettingsSchema.make({});

// ---------------------------------------------------------------------------------------------
// train-shared
// ---------------------------------------------------------------------------------------------

const stepParams = (p: SharedTrainingParams) => ({ episodes: p.episodes, episodesPerShard: p.episodesPerShard, rollouts: p.rollouts, learning: p.learning });

/**
 * rollouts -> ppo-update (stages/body/shared-iteration.ts), then under the `converged` rule the
 * deviation test once every learning class's mean reward is flat at a check, then the state with
 * the stopping rule's progress.
 */
const trainSharedBody = LoopBody.make<SharedTrainingParams, { model: EcnModel }, SharedLoopState, TrainingServices>((b) => {
  const setup = b.setup("setup", (p, inputs) => trainSharedSetup(inputs.model, p));
  const { played, updated } = sharedSteps(b, setup, b.field(b.state, "agents"), stepParams);
  const episodes = b.setup("episodes", (p) => p.episodes);
  const advanced = b.map("next-state", { state: b.state, setup, played, updated, episodes }, (v) =>
    nextSharedState(v.state, { classes: v.played.classes, batches: v.played.batches, episodes: v.episodes, metrics: v.updated.metrics, agents: v.updated.policies, labels: v.setup.labels })
  );
  const rule = b.setup("rule", (p) => validateConvergenceRule(stoppingRule(p.stopping)));
  const learning = b.setup("learning", (p) => p.learning);
  const due = b.map("deviation-due", { state: b.state, advanced, rule, learning }, (v) =>
    stoppingDeviationDue(v.state.stopping ?? initialStopping("fixed"), () => sharedRewardCurves(v.advanced.state.rows, v.learning), v.advanced.state.iteration, v.rule)
  );
  const deviation = b.step(
    "exploitability-check",
    sharedExploitabilityCheck,
    { due, learners: b.field(setup, "learners"), policies: b.field(updated, "policies"), model: b.setup("model", (_p, inputs) => inputs.model) },
    { params: (p) => ({ training: p, deviation: deviationSettingsOf(p.stopping.exploitability) }), stream: { from: "iteration", path: ["stopping", "exploitability"] } }
  );
  return b.finish({ state: b.state, played, advanced, rule, learning, deviation }, (v, { params: p, seconds }) => {
    const { state: next, row } = v.advanced;
    const previous = v.state.stopping ?? initialStopping(p.stopping.rule);
    const stopping = advanceStopping(previous, () => sharedRewardCurves(next.rows, v.learning), next.iteration, v.rule, v.deviation);
    const envSteps = p.episodes * (v.played.batches[0]?.steps ?? 0);
    const rewards = ["lp", "lt"]
      .filter((c) => row[`${c}/charts/episode_reward_mean`] !== undefined)
      .map((c) => `${c} reward ${row[`${c}/charts/episode_reward_mean`]!.toFixed(3)}`)
      .join(" ");
    return {
      state: p.stopping.rule === "fixed" && v.state.stopping === undefined ? next : { ...next, stopping },
      metrics: { ...row, "charts/env_steps_per_second": envSteps / seconds },
      status: `${rewards} | ${(envSteps / seconds).toFixed(0)} env steps/s${stopping.decision === "converged" ? " | converged" : ""}`
    };
  });
});

export const trainShared = Stage.loop({
  name: "train-shared",
  description: "shared LP and LT policies trained together by PPO (paper eq. 10)",
  source: import.meta.url,
  params: SharedTrainingParams,
  scheduleParams: ["iterations", "checkpointEvery"],
  executionParams: ["rollouts"],
  iterations: (p) => p.iterations,
  checkpointEvery: (p) => p.checkpointEvery,
  inputs: { model: ecnModelCodec },
  state: sharedLoopStateCodec,
  init: (inputs, p) =>
    Effect.gen(function* () {
      const { learners } = yield* trainSharedSetup(inputs.model, p);
      return initialSharedState(yield* initialAgents(learners, (yield* Rng).stream.split("init")));
    }),
  // A run that stopped on its diagnostics is done whatever the cap: raising `iterations` changes nothing.
  finished: (state) => stoppedOnDiagnostics(state.stopping),
  body: trainSharedBody
});

// ---------------------------------------------------------------------------------------------
// exploitability
// ---------------------------------------------------------------------------------------------

export const ExploitabilityParams = Schema.Struct({
  agentClass: opt(Schema.Literal("lp", "lt"), "lp").annotations({ description: "Class of the deviating agent." }),
  agent: opt(NonNegativeInt, 0).annotations({ description: "Index of the deviating agent within its class in an episode." }),
  fineTuneIterations: opt(PositiveInt, 20).annotations({ description: "F, fine-tuning iterations of the deviator." }),
  evaluationBatches: opt(PositiveInt, 4).annotations({ description: "Batches of B episodes on which deviator and baseline are compared (same seeds)." }),
  ppo: opt(PpoSettingsSchema, defaultSettings()).annotations({ description: "The deviator's PPO (it starts from the shared weights with a fresh optimiser)." })
});
export type ExploitabilityParams = typeof ExploitabilityParams.Type;

export const exploitabilityStage = Stage.make({
  name: "exploitability",
  description: "gain of one agent fine-tuned against the frozen shared policy (paper section 3.1)",
  source: import.meta.url,
  /** Read where both subtrees sit side by side (e.g. node params path "shared" over { training, exploitability }). */
  params: Schema.Struct({ training: SharedTrainingParams, exploitability: ExploitabilityParams }),
  inputs: { model: ecnModelCodec, shared: sharedLoopStateCodec },
  output: jsonCodec(ExploitabilitySummary),
  run: (inputs, p) =>
    Effect.gen(function* () {
      const { learners } = yield* trainSharedSetup(inputs.model, p.training);
      const agents = yield* restoredAgents(learners, inputs.shared.agents);
      const rng = (yield* Rng).stream;
      const e = p.exploitability;
      const result = yield* Stage.attempt("exploitability", () =>
        sharedDeviationGain(inputs.model, p.training, agents, { ...e, ppo: ppoParamsFrom(e.ppo) }, rng.split("exploitability"))
      );
      return { agentClass: e.agentClass, agent: e.agent, ...result, fineTuneRewards: [...result.fineTuneRewards] };
    })
});
