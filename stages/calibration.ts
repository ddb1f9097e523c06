/**
 * Stages of the calibration experiments (paper section 4, algorithm 1): the loop
 * nodes `train-calsheq` and `train-bo` (rollouts -> LP shared-policy PPO update -> calibrator
 * update, one iteration per loop step, checkpointed) over core/calibration/trainer.ts. The loop
 * state is the live trainer between iterations and its plain `TrainerState` in checkpoints.
 * `episode-records`, which replays the trained market, is in its own module
 * (stages/episode-records.ts) so that editing it does not re-run the training loops.
 */
import { Effect } from "effect";
import type { CalibrationMethod } from "../core/calibration/trainer.ts";
import { Rng } from "../core/pipeline/rng.ts";
import { Stage } from "../core/pipeline/stage.ts";
import { CalibrationParams } from "../schemas/calibration.ts";
import type { EcnModel } from "../schemas/ecn.ts";
import { ecnModelCodec } from "../schemas/ecn-artifacts.ts";
import { ecnSimModelCodec, type EcnSimModel } from "../schemas/ecn-neural-artifacts.ts";
import { trainingStateCodec, type TrainingLoopState } from "../schemas/calibration-artifacts.ts";
import { buildTrainer, trainingParams } from "./support/calibration-trainer.ts";
import { resolvePpoBackend } from "./support/network-backend.ts";

const makeTrainer = (model: EcnModel, sim: EcnSimModel, p: CalibrationParams, method: CalibrationMethod) =>
  Effect.flatMap(resolvePpoBackend(p.ppo), (ppo) => buildTrainer(model, sim, trainingParams({ ...p, ppo }, method), p));

const trainingStage = (method: CalibrationMethod) =>
  Stage.loop({
    name: method === "calsheq" ? "train-calsheq" : "train-bo",
    description:
      method === "calsheq"
        ? "CALSHEQ: LP shared policy and calibrator trained together (algorithm 1)"
        : "Bayesian-optimisation baseline with the same shared-policy training (paper section 5.1)",
    source: import.meta.url,
    params: CalibrationParams,
    scheduleParams: ["iterations", "checkpointEvery"],
    executionParams: ["rollouts"],
    iterations: (p) => p.iterations,
    checkpointEvery: (p) => p.checkpointEvery,
    inputs: { model: ecnModelCodec, sim: ecnSimModelCodec },
    state: trainingStateCodec,
    init: (inputs, p) => Effect.map(makeTrainer(inputs.model, inputs.sim, p, method), (trainer): TrainingLoopState => ({ trainer })),
    // Rollout threads or Redis connections close when the run ends; the trainer stays readable.
    release: (state) => Effect.promise(async () => state.trainer?.rollouts.close()),
    step: (state, inputs, p, context) =>
      Effect.gen(function* () {
        let trainer = state.trainer;
        if (trainer === undefined) {
          trainer = yield* makeTrainer(inputs.model, inputs.sim, p, method);
          trainer.setState(state.saved!);
        }
        const rng = (yield* Rng).stream.split("iterations").split(context.iteration);
        const started = performance.now();
        const live = trainer;
        const row = yield* Stage.attemptPromise(method === "calsheq" ? "train-calsheq" : "train-bo", () => live.iterate(rng));
        const seconds = (performance.now() - started) / 1000;
        const stepsPerSecond = (p.episodes * p.horizon) / seconds;
        context.metrics({ ...row, "charts/env_steps_per_second": stepsPerSecond });
        context.status(
          `r_cal ${row["calibration/reward"]?.toFixed(3)} m_super1 ${row["targets/m_super1"]?.toFixed(3)} m_total ${row["targets/m_total"]?.toFixed(3)} | ${stepsPerSecond.toFixed(0)} env steps/s`
        );
        return { trainer };
      })
  });

export const trainCalsheq = trainingStage("calsheq");
export const trainBo = trainingStage("bo");
