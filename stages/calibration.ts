/**
 * The training loops of the calibration experiments (paper section 4, algorithm 1, and the BO
 * baseline of section 5.1): the loop nodes `train-calsheq` and `train-bo`. Their state is plain
 * data (core/calibration/loop.ts: the LP shared policy's weights and Adam moments, the
 * calibrator's state, the per-iteration rows) and one iteration is a small DAG of stages run in
 * memory, checkpointed every K iterations:
 *   build-supertypes -> rollouts -> ppo-update -> episode-rewards -> calibrator-update (CALSHEQ)
 *                                                                 -> bo-propose (BO)
 * The body stages are in stages/body/ (rollouts and ppo-update are the ones every training loop
 * shares). `episode-records`, which replays the trained market, is in its own module
 * (stages/episode-records.ts) so that editing it does not re-run the training loops.
 */
import { Effect } from "effect";
import { validateConvergenceRule } from "../core/analysis/convergence.ts";
import { experimentDefinition } from "../core/calibration/experiments.ts";
import { initialCalibrationState, iterationRow, type CalibrationLoopState, type CalibrationMethod } from "../core/calibration/loop.ts";
import { frozenMarket } from "../core/calibration/reequilibration.ts";
import { advanceCalibrationStopping, calibrationDeviationDue, initialStopping, stoppedOnDiagnostics } from "../core/calibration/stopping.ts";
import { stoppingRule } from "../core/analysis/stopping.ts";
import type { OtcEpisodeOutcomes } from "../core/otc/env.ts";
import { LoopBody } from "../core/pipeline/loop-body.ts";
import { Rng } from "../core/pipeline/rng.ts";
import { Stage } from "../core/pipeline/stage.ts";
import { CalibrationParams } from "../schemas/calibration.ts";
import type { EcnModel } from "../schemas/ecn.ts";
import { ecnModelCodec } from "../schemas/ecn-artifacts.ts";
import { ecnSimModelCodec, type EcnSimModel } from "../schemas/ecn-neural-artifacts.ts";
import { trainingStateCodec } from "../schemas/calibration-artifacts.ts";
import { boPropose } from "./body/bo-propose.ts";
import { deviationSettingsOf, exploitabilityCheck } from "./body/exploitability-check.ts";
import { buildSupertypes } from "./body/build-supertypes.ts";
import { calibratorUpdate } from "./body/calibrator-update.ts";
import { episodeRewards } from "./body/episode-rewards.ts";
import { ppoUpdateStage } from "./body/ppo-update.ts";
import { rollouts } from "./body/rollouts.ts";
import { calibrationEnv, ecnSpecOf, initialBoState, initialCalsheqState, resolvedTrainingParams } from "./support/calibration.ts";
import { initialLearnerState, learnerSpecs } from "./support/learners.ts";
import type { NetworkBackend } from "./support/network-backend.ts";
import type { RolloutExecutor } from "./support/rollout-executor.ts";

interface CalibrationInputs {
  readonly model: EcnModel;
  readonly sim: EcnSimModel;
}

/** The services the calibration loops need from their pipeline. */
export type CalibrationServices = RolloutExecutor | NetworkBackend;

/** The env of the episodes and the LP's learner, from the params the state was trained with. */
const setupOf = (p: CalibrationParams, inputs: CalibrationInputs, method: CalibrationMethod) =>
  Effect.gen(function* () {
    const training = yield* resolvedTrainingParams(p, method);
    const env = calibrationEnv(training, ecnSpecOf(inputs.model, inputs.sim));
    const learners = yield* learnerSpecs(env, () => training.ppo);
    return { training, env, learners };
  });

/** A CALSHEQ form a node trains in whatever `calibration.calsheq.form` says (the form reported beside the main one). */
export type CalsheqForm = CalibrationParams["calsheq"]["form"];

const inForm = (p: CalibrationParams, form: CalsheqForm | undefined): CalibrationParams => (form === undefined ? p : { ...p, calsheq: { ...p.calsheq, form } });

const calibrationBody = (method: CalibrationMethod, form: CalsheqForm | undefined) =>
  LoopBody.make<CalibrationParams, CalibrationInputs, CalibrationLoopState, CalibrationServices>((b) => {
    const setup = b.setup("setup", (p, inputs) => setupOf(inForm(p, form), inputs, method));
    const env = b.field(setup, "env");
    const learners = b.field(setup, "learners");
    const policies = b.map("policies", { lp: b.field(b.state, "lp") }, ({ lp }) => ({ lp }));
    const supertypes = b.step("build-supertypes", buildSupertypes, { calsheq: b.field(b.state, "calsheq"), bo: b.field(b.state, "bo") }, {
      params: (p) => ({ experiment: p.experiment, episodes: p.episodes })
    });
    const played = b.step(
      "rollouts",
      rollouts,
      { env, learners, policies, episodeInputs: b.field(supertypes, "populations") },
      { params: (p) => ({ episodes: p.episodes, episodesPerShard: p.episodesPerShard, rollouts: p.rollouts }), stream: { from: "iteration", path: ["shared", "rollouts"] } }
    );
    const updated = b.step(
      "ppo-update",
      ppoUpdateStage,
      { learners, policies, batches: b.field(played, "batches") },
      { params: () => ({ learning: ["lp"] }), stream: { from: "iteration", path: ["shared", "update"] } }
    );
    // The calibration env's extras are its episode outcomes (core/otc/rollout-env.ts).
    const outcomes = b.map("outcomes", { extras: b.field(played, "extras") }, ({ extras }) => extras as readonly OtcEpisodeOutcomes[]);
    const rewards = b.step("episode-rewards", episodeRewards, { outcomes }, { params: (p) => ({ experiment: p.experiment, targets: p.targets }) });
    const episodeR = b.field(b.field(rewards, "episodes"), "rewards");
    const calibrator =
      method === "calsheq"
        ? b.map(
            "calibrator",
            { update: b.step("calibrator-update", calibratorUpdate, { calsheq: b.map("calsheq", { s: b.field(b.state, "calsheq") }, ({ s }) => s!), rewards: episodeR }, { params: (p) => inForm(p, form), stream: { from: "iteration", path: ["calibrator"] } }) },
            ({ update }) => ({ calsheq: update.calsheq, bo: null, step: update.step })
          )
        : b.map(
            "calibrator",
            {
              bo: b.step("bo-propose", boPropose, { bo: b.map("bo", { s: b.field(b.state, "bo") }, ({ s }) => s!), rewards: episodeR, iteration: b.iteration }, { params: (p) => ({ experiment: p.experiment, bo: p.bo }), stream: { from: "node", path: ["init", "bo"] } })
            },
            ({ bo }) => ({ calsheq: null, bo, step: { loss: Number.NaN, meanAbsoluteStep: Number.NaN } })
          );
    const row = b.map("row", { state: b.state, supertypes, played, updated, rewards, calibrator, iteration: b.iteration, setup }, (v) =>
      iterationRow({
        iteration: v.iteration,
        envSteps: v.state.envSteps + v.setup.training.episodes * v.setup.training.horizon,
        names: experimentDefinition(v.state.experiment).space.names,
        profiles: v.supertypes.profiles,
        lpBatch: v.played.batches[0]!,
        ppo: v.updated.metrics["lp"]!,
        outcomes: v.rewards.outcomes,
        episodes: v.rewards.episodes,
        calibrator: v.calibrator.step
      })
    );
    // Under the `converged` rule: the deviation test, once a check is due and every watched curve
    // is flat, in the market frozen at the calibrator's mean profile after this iteration's update.
    const rule = b.setup("rule", (p) => validateConvergenceRule(stoppingRule(p.stopping)));
    const market = b.map("deviation-market", { state: b.state, row, calibrator, rule }, (v) => {
      const stopping = v.state.stopping ?? initialStopping("fixed");
      if (!calibrationDeviationDue(stopping, [...v.state.rows, v.row], v.rule)) return null;
      return frozenMarket({ ...v.state, calsheq: v.calibrator.calsheq, bo: v.calibrator.bo }, []);
    });
    const deviation = b.step(
      "exploitability-check",
      exploitabilityCheck,
      { market, learners, policies: b.field(updated, "policies"), ecn: b.setup("ecn", (_p, inputs) => ecnSpecOf(inputs.model, inputs.sim)) },
      { params: (p) => ({ deviation: deviationSettingsOf(p.stopping.exploitability), episodes: p.episodes }), stream: { from: "iteration", path: ["stopping", "exploitability"] } }
    );
    return b.finish({ state: b.state, updated, calibrator, row, rule, deviation }, (v, { params: p, iteration, seconds }): { state: CalibrationLoopState; metrics: Record<string, number>; status: string } => {
      const state = v.state;
      const row = v.row;
      const rows = [...state.rows, row];
      const stopping = advanceCalibrationStopping(state.stopping ?? initialStopping("fixed"), rows, v.rule, v.deviation);
      const next: CalibrationLoopState = {
        ...state,
        iteration,
        envSteps: row["env_steps"]!,
        lp: v.updated.policies["lp"]!,
        calsheq: v.calibrator.calsheq,
        bo: v.calibrator.bo,
        rows,
        stopping
      };
      const stepsPerSecond = (p.episodes * p.horizon) / seconds;
      const stopped = stopping.decision === "converged" ? " | converged" : "";
      return {
        state: next,
        metrics: { ...row, "charts/env_steps_per_second": stepsPerSecond },
        status: `r_cal ${row["calibration/reward"]?.toFixed(3)} m_super1 ${row["targets/m_super1"]?.toFixed(3)} m_total ${row["targets/m_total"]?.toFixed(3)} | ${stepsPerSecond.toFixed(0)} env steps/s${stopped}`
      };
    });
  });

const trainingStage = (method: CalibrationMethod, form?: CalsheqForm) =>
  Stage.loop({
    name: method === "bo" ? "train-bo" : form === undefined ? "train-calsheq" : `train-calsheq-${form}`,
    description:
      method === "bo"
        ? "Bayesian-optimisation baseline with the same shared-policy training (paper section 5.1)"
        : form === undefined
          ? "CALSHEQ: LP shared policy and calibrator trained together (algorithm 1)"
          : `CALSHEQ in its ${form} form whatever calibration.calsheq.form says, to report beside the main run`,
    source: import.meta.url,
    params: CalibrationParams,
    scheduleParams: ["iterations", "checkpointEvery"],
    executionParams: ["rollouts"],
    iterations: (p) => p.iterations,
    checkpointEvery: (p) => p.checkpointEvery,
    inputs: { model: ecnModelCodec, sim: ecnSimModelCodec },
    state: trainingStateCodec,
    init: (inputs, p) =>
      Effect.gen(function* () {
        const { training, learners } = yield* setupOf(inForm(p, form), inputs, method);
        // The node's `init` stream: the LP policy from `lp-policy`, CALSHEQ from `calsheq`, BO from `bo` (bo-propose keeps drawing from it).
        const init = (yield* Rng).stream.split("init");
        const lp = yield* initialLearnerState(learners[0]!, init.split("lp-policy"));
        const calsheq = method === "calsheq" ? yield* initialCalsheqState(training, init.split("calsheq")) : null;
        return initialCalibrationState(training, lp, calsheq, method === "bo" ? initialBoState(training, init.split("bo")) : null, p.stopping.rule);
      }),
    // A run that stopped on its diagnostics is done whatever the cap: raising `iterations` changes nothing.
    finished: (state) => stoppedOnDiagnostics(state.stopping),
    body: calibrationBody(method, form)
  });

export const trainCalsheq = trainingStage("calsheq");
/** CALSHEQ in a given form, trained beside the main run (same seed, budget and stopping rule). */
export const trainCalsheqInForm = (form: CalsheqForm) => trainingStage("calsheq", form);
export const trainBo = trainingStage("bo");
