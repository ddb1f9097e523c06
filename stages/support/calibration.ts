/**
 * Set-up shared by the calibration loops `train-calsheq` / `train-bo` (paper section 4, algorithm
 * 1), their body stages and `episode-records`, which replays the trained market: the domain
 * training params for a stage's params (networks on the backend the run's NetworkBackend
 * resolved), the simulator's ECN model as data, the env the episodes are played in as data, and
 * the live calibrators a body stage materialises from their plain states through the node's
 * workspace. Not a stage: stage modules import it, it imports no stage module.
 */
import { Effect } from "effect";
import { BayesOptimizer, defaultBayesOptParams, type BayesOptState } from "../../core/calibration/bayes-opt.ts";
import { CalsheqCalibrator, defaultCalsheqParams, type CalsheqState } from "../../core/calibration/calsheq.ts";
import { experimentDefinition, targetsWith } from "../../core/calibration/experiments.ts";
import { calibrationGame, calsheqSetup, type CalibrationMethod, type CalibrationTrainingParams } from "../../core/calibration/loop.ts";
import { otcRolloutLocation, type OtcEcnSpec, type OtcRolloutArgs } from "../../core/otc/rollout-env.ts";
import { Workspace } from "../../core/pipeline/workspace.ts";
import { Random } from "../../core/random/philox.ts";
import type { CalibrationParams } from "../../schemas/calibration.ts";
import type { EcnModel } from "../../schemas/ecn.ts";
import { neuralModelOf, type EcnSimModel } from "../../schemas/ecn-neural-artifacts.ts";
import { ppoParamsFrom } from "../../schemas/ppo.ts";
import type { RolloutEnvSpec } from "./learners.ts";
import { resolvePpoBackend } from "./network-backend.ts";

export const trainingParams = (p: CalibrationParams, method: CalibrationMethod): CalibrationTrainingParams => {
  const experiment = p.experiment;
  const targets = targetsWith(experimentDefinition(experiment).targets, p.targets);
  const calibratorPpo = defaultCalsheqParams.ppo;
  return {
    experiment,
    method,
    episodes: p.episodes,
    horizon: p.horizon,
    episodesPerShard: p.episodesPerShard,
    ppo: ppoParamsFrom(p.ppo),
    calsheq: {
      ...defaultCalsheqParams,
      learningRateRatio: p.calsheq.learningRateRatio,
      maxStepFraction: p.calsheq.maxStepFraction,
      boundary: p.calsheq.boundary,
      form: p.calsheq.form,
      ppo: {
        ...calibratorPpo,
        sgdPasses: p.calsheq.sgdPasses,
        minibatchSize: Math.min(calibratorPpo.minibatchSize, p.episodes),
        network: {
          ...calibratorPpo.network,
          compute: { backend: p.ppo.backend, intraOpThreads: p.ppo.threads },
          policy: { ...calibratorPpo.network.policy, hiddenWidths: p.calsheq.hidden },
          value: { ...calibratorPpo.network.value, hiddenWidths: p.calsheq.hidden }
        }
      }
    },
    boEvery: p.bo.every,
    bo: { ...defaultBayesOptParams, acquisition: p.bo.acquisition, kappa: p.bo.kappa },
    targets
  };
};

/** The simulator's ECN model as data: the vanilla mixture, or the network `train-ecn-sim-model` trained. */
export const ecnSpecOf = (model: EcnModel, sim: EcnSimModel): OtcEcnSpec => {
  const neural = neuralModelOf(sim);
  return neural === undefined ? { kind: "gmm", data: model } : { kind: "neural", neural, vanilla: model };
};


/** The training params of `p` with the LP's and the calibrator's networks on the backend the run resolved. */
export const resolvedTrainingParams = (p: CalibrationParams, method: CalibrationMethod) =>
  Effect.map(resolvePpoBackend(p.ppo), (ppo) => trainingParams({ ...p, ppo }, method));

/** Where the episodes of an iteration are played: the experiment's game on the simulator's ECN model, as data. */
export const calibrationEnv = (params: Pick<CalibrationTrainingParams, "experiment" | "horizon">, ecn: OtcEcnSpec): RolloutEnvSpec & { readonly args: OtcRolloutArgs } => ({
  location: otcRolloutLocation,
  args: { config: calibrationGame(params), ecn }
});

interface CalsheqSlot {
  readonly calibrator: CalsheqCalibrator;
  holds: CalsheqState | undefined;
}

const calsheqSlot = (params: CalibrationTrainingParams, seed?: CalsheqCalibrator) =>
  Effect.flatMap(Workspace, (workspace) =>
    workspace.use<CalsheqSlot, never, never>(
      "calibrator:calsheq",
      [params],
      Effect.sync(() => {
        const { spec, params: calsheq } = calsheqSetup(params);
        // The construction's draws (first particles, network weights) are overwritten by the state restored below.
        return { calibrator: seed ?? new CalsheqCalibrator(spec, calsheq, Random.fromSeed(0)), holds: undefined };
      }),
      (slot) => Effect.sync(() => slot.calibrator.dispose())
    )
  );

/** A fresh CALSHEQ calibrator's state (first move drawn from `rng`); it stays live in the workspace. */
export const initialCalsheqState = (params: CalibrationTrainingParams, rng: Random) =>
  Effect.gen(function* () {
    const { spec, params: calsheq } = calsheqSetup(params);
    const calibrator = new CalsheqCalibrator(spec, calsheq, rng);
    const slot = yield* calsheqSlot(params, calibrator);
    if (slot.calibrator !== calibrator) calibrator.dispose();
    const state = calibrator.getState();
    slot.calibrator.setState(state);
    slot.holds = state;
    return state;
  });

/** The live calibrator holding `state`, and a way to note the state it holds after an update. */
export const liveCalsheq = (params: CalibrationTrainingParams, state: CalsheqState) =>
  Effect.map(calsheqSlot(params), (slot) => {
    if (slot.holds !== state) {
      slot.calibrator.setState(state);
      slot.holds = state;
    }
    return {
      calibrator: slot.calibrator,
      snapshot: (): CalsheqState => {
        const next = slot.calibrator.getState();
        slot.holds = next;
        return next;
      }
    };
  });

/** A Bayesian optimiser over the experiment's space holding `state`; `rng` is its own stream (the same every iteration). */
export const boOptimizer = (params: Pick<CalibrationTrainingParams, "experiment" | "bo">, state: BayesOptState, rng: Random): BayesOptimizer => {
  const { space } = experimentDefinition(params.experiment);
  const optimizer = new BayesOptimizer({ lower: space.lower, upper: space.upper }, params.bo, rng);
  optimizer.setState(state);
  return optimizer;
};

/** A Bayesian optimiser's state before its first observation. */
export const initialBoState = (params: Pick<CalibrationTrainingParams, "experiment" | "bo">, rng: Random): BayesOptState => {
  const { space } = experimentDefinition(params.experiment);
  return new BayesOptimizer({ lower: space.lower, upper: space.upper }, params.bo, rng).getState();
};
