/**
 * Independent nodes run side by side: two loops that depend only on a common root overlap in
 * time, and each ends with exactly the state it reaches when run alone (every node draws from its
 * own seeded stream, so the schedule cannot change a result). A loop that fails stops the run
 * with its own error. Every iteration is reported with the figures the stage gives.
 */
import { it } from "@effect/vitest";
import { Effect, Exit, Layer, Schema } from "effect";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect } from "vitest";
import { layerBackend } from "../../core/pipeline/backend.ts";
import { jsonCodec } from "../../core/pipeline/codecs/json.ts";
import { Pipeline } from "../../core/pipeline/pipeline.ts";
import { layerProgress } from "../../core/pipeline/progress.ts";
import { Rng } from "../../core/pipeline/rng.ts";
import { runPipeline, type IterationEvent } from "../../core/pipeline/runner.ts";
import { Stage } from "../../core/pipeline/stage.ts";
import { ArtifactStore } from "../../core/pipeline/store.ts";

/** [node, start ms, end ms] of every loop step, in the order steps ended. */
const steps: [string, number, number][] = [];

const Start = Schema.Struct({ value: Schema.Number });
const start = Stage.make({
  name: "start",
  description: "a seeded starting value",
  source: import.meta.url,
  params: Schema.Struct({}),
  inputs: {},
  output: jsonCodec(Start),
  run: () => Effect.map(Rng, (rng) => ({ value: rng.stream.uniform() }))
});

const Walk = Schema.Struct({ position: Schema.Number, path: Schema.Array(Schema.Number) });
const walk = Stage.loop({
  name: "walk",
  description: "a seeded random walk that sleeps in each step",
  source: import.meta.url,
  params: Schema.Struct({ iterations: Schema.Int, sleepMs: Schema.Number, failAt: Schema.Int }),
  scheduleParams: ["iterations", "sleepMs"],
  iterations: (p) => p.iterations,
  checkpointEvery: () => 2,
  inputs: { start: jsonCodec(Start) },
  state: jsonCodec(Walk),
  init: (inputs) => Effect.succeed({ position: inputs.start.value, path: [] }),
  step: (state, _inputs, params, context) =>
    Effect.gen(function* () {
      if (context.iteration === params.failAt) return yield* Effect.fail({ _tag: "WalkFailed", message: `the walk failed at step ${context.iteration}` });
      const began = performance.now();
      const rng = (yield* Rng).stream.split(context.iteration);
      yield* Effect.sleep(params.sleepMs);
      const position = state.position + rng.normal();
      context.metrics({ position, "charts/not_a_number": Number.NaN });
      steps.push([context.iteration === 1 ? "first" : "later", began, performance.now()]);
      return { position, path: [...state.path, position] };
    })
});

const pipeline = Pipeline.make({
  name: "fork",
  description: "test pipeline: one root, two independent loops",
  defaults: { seed: 3, root: {}, a: { iterations: 6, sleepMs: 25, failAt: -1 }, b: { iterations: 6, sleepMs: 25, failAt: -1 } },
  presets: {},
  build: (p) => {
    const root = p.node("start", start, {}, "root");
    p.loop("walk-a", walk, { start: root }, "a");
    p.loop("walk-b", walk, { start: root }, "b");
  }
});

const stores: string[] = [];
afterAll(() => stores.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const run = (options: { until?: string; sets?: [string, number][]; onIteration?: (e: IterationEvent) => void } = {}) => {
  const storeRoot = mkdtempSync(join(tmpdir(), "otc-fork-"));
  stores.push(storeRoot);
  return runPipeline({
    pipeline,
    storeRoot,
    ...(options.until ? { until: options.until } : {}),
    ...(options.onIteration ? { onIteration: options.onIteration } : {}),
    sets: options.sets ?? []
  }).pipe(
    Effect.provide(Layer.mergeAll(ArtifactStore.layerFs(storeRoot), layerBackend(), layerProgress(true)))
  );
};

const finalPath = (result: Effect.Effect.Success<ReturnType<typeof run>>, node: string) => result.results.get(node)!.manifest.outputs["value"]!.blob;

describe("independent nodes", () => {
  it.live("overlap in time and end bit-identical to running alone", () =>
    Effect.gen(function* () {
      steps.length = 0;
      const together = yield* run();
      const overlapping = steps.filter(([, began]) => steps.some(([, b2, e2]) => b2 < began && began < e2));
      expect(overlapping.length).toBeGreaterThan(0);
      const aloneA = yield* run({ until: "walk-a" });
      const aloneB = yield* run({ until: "walk-b" });
      expect(finalPath(together, "walk-a")).toBe(finalPath(aloneA, "walk-a"));
      expect(finalPath(together, "walk-b")).toBe(finalPath(aloneB, "walk-b"));
      // Same stage, same params, different node: different streams, so different walks.
      expect(finalPath(together, "walk-a")).not.toBe(finalPath(together, "walk-b"));
    })
  );

  it.live("report every iteration with its figures, for --json progress", () =>
    Effect.gen(function* () {
      const events: IterationEvent[] = [];
      const result = yield* run({ until: "walk-a", onIteration: (e) => events.push(e) });
      expect(events.map((e) => [e.node, e.iteration, e.iterations])).toEqual([1, 2, 3, 4, 5, 6].map((k) => ["walk-a", k, 6]));
      const stored = yield* ArtifactStore.pipe(
        Effect.flatMap((store) => store.getBlob(result.results.get("walk-a")!.manifest.outputs["value"]!.blob)),
        Effect.provide(ArtifactStore.layerFs(stores[stores.length - 1]!))
      );
      const path = (JSON.parse(new TextDecoder().decode(stored)) as { path: number[] }).path;
      expect(events.map((e) => e.metrics["position"])).toEqual(path);
      // Figures that are not numbers are left out rather than printed as null.
      expect(events.every((e) => !("charts/not_a_number" in e.metrics))).toBe(true);
      expect(events.at(-1)!.etaSeconds).toBe(0);
      expect(events.every((e) => e.elapsedSeconds >= 0 && e.etaSeconds >= 0)).toBe(true);
    })
  );

  it.live("stop on the first failure with that node's error", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(run({ sets: [["b.failAt", 3]] }));
      expect(Exit.isFailure(exit)).toBe(true);
      if (Exit.isFailure(exit)) expect(String(exit.cause)).toMatch(/node "walk-b".*the walk failed at step 3/);
    })
  );
});
