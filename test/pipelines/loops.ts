/**
 * Test helpers that run training loops (the calibration loops of stages/calibration.ts and any
 * other) outside a pipeline through `driveLoop`: tiny user-level params, a stand-in ECN model, and
 * the services a run provides (tfjs on cpu, an artifact store, a rollout executor Layer the test
 * chooses).
 */
import { Effect, Exit, Layer, Schema, Scope } from "effect";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CalibrationLoopState } from "../../core/calibration/loop.ts";
import { layerBackend } from "../../core/pipeline/backend.ts";
import { driveLoop, type LoopDriver } from "../../core/pipeline/loop-body.ts";
import type { LoopStage } from "../../core/pipeline/stage.ts";
import { layerProgress } from "../../core/pipeline/progress.ts";
import { ArtifactStore } from "../../core/pipeline/store.ts";
import { CalibrationParams } from "../../schemas/calibration.ts";
import type { EcnModel } from "../../schemas/ecn.ts";
import type { EcnSimModel } from "../../schemas/ecn-neural-artifacts.ts";
import { trainBo, trainCalsheq } from "../../stages/calibration.ts";
import { NetworkBackend } from "../../stages/support/network-backend.ts";
import { RolloutExecutor } from "../../stages/support/rollout-executor.ts";
import { standInGmmData } from "../otc/fixtures.ts";

/** Experiment-4 params at a tiny scale (16-wide LP networks on tfjs, an 8-wide calibrator with 2 SGD passes). */
export const tinyCalibration = (shape: { episodes: number; horizon: number; episodesPerShard: number; workers?: number }, more: Record<string, unknown> = {}) =>
  Schema.decodeUnknownSync(CalibrationParams)({
    experiment: 4,
    episodes: shape.episodes,
    horizon: shape.horizon,
    episodesPerShard: shape.episodesPerShard,
    rollouts: { workers: shape.workers ?? 0 },
    ppo: { hidden: [16], sgdPasses: 2, minibatchSize: 64, learningRate: 1e-3, backend: "tfjs" },
    calsheq: { hidden: [8], sgdPasses: 2 },
    bo: { every: 2 },
    ...more
  });

// The loops only sample from the model (core/otc/rollout-env.ts): a stand-in mixture is enough.
export const standInInputs: { readonly model: EcnModel; readonly sim: EcnSimModel } = { model: standInGmmData() as unknown as EcnModel, sim: { kind: "gmm" } };

const storeDir = mkdtempSync(join(tmpdir(), "calibration-drive-"));

/** The services of a run, with the rollout executor Layer given (default: every shard in this thread). */
export const runServices = (executor: Layer.Layer<RolloutExecutor, never, ArtifactStore> = RolloutExecutor.inThread) => {
  const store = ArtifactStore.layerFs(storeDir);
  return Layer.mergeAll(layerBackend("cpu"), layerProgress(true), store, NetworkBackend.native, executor.pipe(Layer.provide(store)));
};

export interface OpenLoop<S = CalibrationLoopState> {
  readonly driver: LoopDriver<S>;
  readonly next: () => Promise<Readonly<Record<string, number>>>;
  readonly close: () => Promise<void>;
}

export interface OpenOptions<S> {
  readonly seed?: number;
  readonly executor?: Layer.Layer<RolloutExecutor, never, ArtifactStore>;
  readonly start?: { iteration: number; state: S };
}

/** Any training loop kept open between calls (its workspace and executors live until `close`). */
export const openLoopOf = async <P, I, S>(loop: LoopStage<P, I, S, RolloutExecutor | NetworkBackend>, inputs: I, params: P, options: OpenOptions<S> = {}): Promise<OpenLoop<S>> => {
  const scope = Effect.runSync(Scope.make());
  const services = runServices(options.executor);
  // The services are built once, in the loop's scope (as a run builds them once).
  const context = await Effect.runPromise(Layer.build(services).pipe(Scope.extend(scope)));
  const provided = <A>(effect: Effect.Effect<A, unknown, Layer.Layer.Success<typeof services> | Scope.Scope>) =>
    Effect.runPromise(effect.pipe(Effect.provide(context), Scope.extend(scope)) as Effect.Effect<A>);
  const driver = await provided(driveLoop(loop, inputs, params, { seed: options.seed ?? 5, ...(options.start !== undefined ? { start: options.start } : {}) }));
  return { driver, next: () => provided(driver.next), close: () => Effect.runPromise(Scope.close(scope, Exit.void)) };
};

/** A calibration loop kept open between calls. */
export const openLoop = (method: "calsheq" | "bo", params: CalibrationParams, options: OpenOptions<CalibrationLoopState> = {}) =>
  openLoopOf<CalibrationParams, typeof standInInputs, CalibrationLoopState>(method === "calsheq" ? trainCalsheq : trainBo, standInInputs, params, options);

/** The state of any loop after `iterations`. */
export const stateAfter = async <P, I, S>(loop: LoopStage<P, I, S, RolloutExecutor | NetworkBackend>, inputs: I, params: P, iterations: number, options: OpenOptions<S> = {}): Promise<S> => {
  const open = await openLoopOf(loop, inputs, params, options);
  try {
    while (open.driver.current().iteration < iterations) await open.next();
    return open.driver.current().state;
  } finally {
    await open.close();
  }
};

/** The state after `iterations` of a fresh (or started) calibration loop. */
export const trainedState = (method: "calsheq" | "bo", params: CalibrationParams, iterations: number, options: OpenOptions<CalibrationLoopState> = {}) =>
  stateAfter<CalibrationParams, typeof standInInputs, CalibrationLoopState>(method === "calsheq" ? trainCalsheq : trainBo, standInInputs, params, iterations, options);
