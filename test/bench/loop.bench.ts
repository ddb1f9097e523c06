/**
 * Benchmark: what composing a training iteration from stages costs beside the iteration's work, on
 * the quick preset of calibrate-exp4 (B = 20 episodes of T = 100 steps, [64, 64] networks on
 * onnxruntime, 4 SGD passes over minibatches of 1,024, rollouts on one worker thread per core).
 * For CALSHEQ and BO it drives the loop (`driveLoop`, as the runner does, without checkpoints) for
 * a few warm-up iterations, then times every iteration and every step in it: the composition's
 * overhead is the iteration's wall time not spent inside a step (resolving the body's values,
 * providing each step's stream, the fold into the next state and its row of figures), as a share
 * of the iteration. Steps keep the state as plain data, so each update also copies the learners'
 * weights and Adam moments out of the networks (`getState`); that copy is inside the steps and
 * is measured on its own beside them. Goal: overhead <= 2% of an iteration. Prints one JSON object.
 */
import { loadavg } from "node:os";
import { Effect, Layer, Schema, Scope, Exit } from "effect";
import { layerBackend } from "../../core/pipeline/backend.ts";
import { driveLoop } from "../../core/pipeline/loop-body.ts";
import { layerProgress } from "../../core/pipeline/progress.ts";
import { ArtifactStore } from "../../core/pipeline/store.ts";
import { Random } from "../../core/random/philox.ts";
import { PpoAgent } from "../../core/rl/ppo.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CalibrationParams } from "../../schemas/calibration.ts";
import type { EcnModel } from "../../schemas/ecn.ts";
import { trainBo, trainCalsheq } from "../../stages/calibration.ts";
import { learnerSpecs } from "../../stages/support/learners.ts";
import { calibrationEnv, resolvedTrainingParams } from "../../stages/support/calibration.ts";
import { trainingResources } from "../../stages/support/resources.ts";
import { standInGmmData } from "../otc/fixtures.ts";

const WARMUP = Number(process.env["LOOP_BENCH_WARMUP"] ?? 3);
const ITERATIONS = Number(process.env["LOOP_BENCH_ITERATIONS"] ?? 30);

// calibrate-exp4's quick defaults (pipelines/calibrate.ts, the experiment's quick schedule).
const params = Schema.decodeUnknownSync(CalibrationParams)({ experiment: 4, ppo: { learningRate: 1e-4 }, calsheq: { learningRateRatio: 10 }, bo: { every: 5 } });
const inputs = { model: standInGmmData() as unknown as EcnModel, sim: { kind: "gmm" } as const };
const dir = mkdtempSync(join(tmpdir(), "loop-bench-"));
const store = ArtifactStore.layerFs(dir);
const services = Layer.mergeAll(layerBackend(), layerProgress(true), store, trainingResources.pipe(Layer.provide(store)));
const round = (x: number, digits = 2) => Number(x.toFixed(digits));

const measure = async (method: "calsheq" | "bo") => {
  const scope = Effect.runSync(Scope.make());
  // The services are built once, in the loop's scope (as a run builds them once).
  const context = await Effect.runPromise(Layer.build(services).pipe(Scope.extend(scope)));
  const run = <A>(effect: Effect.Effect<A, unknown, Layer.Layer.Success<typeof services> | Scope.Scope>) =>
    Effect.runPromise(effect.pipe(Effect.provide(context), Scope.extend(scope)) as Effect.Effect<A>);
  const stepMs = new Map<string, number>();
  let timing = false;
  let insideSteps = 0;
  const driver = await run(
    driveLoop(method === "calsheq" ? trainCalsheq : trainBo, inputs, params, {
      seed: 1,
      onStep: (step, ms) => {
        if (!timing) return;
        insideSteps += ms;
        stepMs.set(step, (stepMs.get(step) ?? 0) + ms);
      }
    })
  );
  for (let k = 0; k < WARMUP; k++) await run(driver.next);
  timing = true;
  const started = performance.now();
  for (let k = 0; k < ITERATIONS; k++) await run(driver.next);
  const wall = performance.now() - started;
  await Effect.runPromise(Scope.close(scope, Exit.void));
  return {
    iterationMs: round(wall / ITERATIONS, 1),
    stepsMs: Object.fromEntries([...stepMs].map(([step, ms]) => [step, round(ms / ITERATIONS, 2)])),
    overheadMsPerIteration: round((wall - insideSteps) / ITERATIONS, 3),
    overheadPercent: round((100 * (wall - insideSteps)) / wall, 3)
  };
};

/** The plain-data copy a step makes after learning: the LP policy's getState, timed on its own. */
const stateCopy = async () =>
  Effect.runPromise(
    Effect.gen(function* () {
      const training = yield* resolvedTrainingParams(params, "calsheq");
      const [lp] = yield* learnerSpecs(calibrationEnv(training, { kind: "gmm", data: inputs.model }), () => training.ppo);
      const agent = new PpoAgent(lp!.obsDim, lp!.action, lp!.ppo, Random.fromSeed(3));
      const repeats = 200;
      let state = agent.getState();
      const started = performance.now();
      for (let k = 0; k < repeats; k++) state = agent.getState();
      const getMs = (performance.now() - started) / repeats;
      const restoreStarted = performance.now();
      for (let k = 0; k < repeats; k++) agent.setState(state);
      const setMs = (performance.now() - restoreStarted) / repeats;
      agent.dispose();
      return { lpGetStateMs: round(getMs, 3), lpSetStateMs: round(setMs, 3), floats: Object.values(state.weights).reduce((n, w) => n + w.data.length, 0) * 3 };
    }).pipe(Effect.provide(services))
  );

const load = loadavg().map((x) => round(x));
const calsheq = await measure("calsheq");
const bo = await measure("bo");
const copy = await stateCopy();
rmSync(dir, { recursive: true, force: true });
console.log(
  JSON.stringify(
    {
      benchmark: "loop",
      preset: "quick (calibrate-exp4: B = 20, T = 100, [64, 64], onnxruntime)",
      iterations: ITERATIONS,
      loadAverageBefore: load,
      loadAverageAfter: loadavg().map((x) => round(x)),
      calsheq,
      bo,
      plainStateCopy: { ...copy, percentOfCalsheqIteration: round((100 * copy.lpGetStateMs) / calsheq.iterationMs, 3) },
      goal: "overheadPercent <= 2"
    },
    null,
    2
  )
);
