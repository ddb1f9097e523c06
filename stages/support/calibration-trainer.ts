/**
 * Set-up of the calibration trainer (paper section 4, algorithm 1) shared by the training loops
 * `train-calsheq` / `train-bo` and by `episode-records`, which replays the trained market: the
 * domain training params for a stage's params, the simulator's ECN model as data, and a
 * core/calibration/trainer.ts trainer whose rollouts run where the params ask. Not a stage: stage
 * modules import it, it imports no stage module.
 */
import { Effect } from "effect";
import { defaultBayesOptParams } from "../../core/calibration/bayes-opt.ts";
import { defaultCalsheqParams } from "../../core/calibration/calsheq.ts";
import { experimentDefinition, targetsWith } from "../../core/calibration/experiments.ts";
import { CalibrationTrainer, type CalibrationMethod, type CalibrationTrainingParams } from "../../core/calibration/trainer.ts";
import type { OtcEcnSpec } from "../../core/otc/rollout-env.ts";
import { Backend } from "../../core/pipeline/backend.ts";
import { Rng } from "../../core/pipeline/rng.ts";
import type { CalibrationParams } from "../../schemas/calibration.ts";
import type { EcnModel } from "../../schemas/ecn.ts";
import { neuralModelOf, type EcnSimModel } from "../../schemas/ecn-neural-artifacts.ts";
import { ppoParamsFrom } from "../../schemas/ppo.ts";
import { workerBackend } from "../../schemas/rollouts.ts";
import { acquireRolloutExecutor } from "./rollout-executor.ts";

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

/** A trainer for `params` whose rollouts run as `p.rollouts` asks, on the run's tfjs backend. */
export const buildTrainer = (model: EcnModel, sim: EcnSimModel, params: CalibrationTrainingParams, p: CalibrationParams | undefined) =>
  Effect.gen(function* () {
    const backend = yield* Backend;
    yield* backend.ensure;
    const rng = (yield* Rng).stream;
    const shards = Math.ceil(params.episodes / params.episodesPerShard);
    const executor = p === undefined ? undefined : yield* acquireRolloutExecutor(p.rollouts, shards);
    return new CalibrationTrainer(params, ecnSpecOf(model, sim), rng.split("init"), {
      workers: 0,
      ...(executor !== undefined ? { executor } : {}),
      ...workerBackend(backend.current())
    });
  });
