/**
 * Pipelines whose shape follows their params, nodes reading several param groups, and loops that
 * stop themselves:
 * - one node per configured item (as DVC's `foreach`): a new item adds its node, the others stay
 *   cache hits; setting an item to null removes its node; changing a group every item reads
 *   re-runs them all; a build that refuses the params is bad usage, before anything is written;
 * - defaults that follow a param (`shapeFor`) are layered under the overrides asked for;
 * - a loop with a stopping rule stops at its first final state and runs no further step; its
 *   output for the cap N is that state, so raising N runs no iteration and gives the same data.
 */
import { it } from "@effect/vitest";
import { Effect, Either, Exit, Layer, Schema } from "effect";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect } from "vitest";
import { layerBackend } from "../../core/pipeline/backend.ts";
import { jsonCodec } from "../../core/pipeline/codecs/json.ts";
import { getPath, type JsonValue } from "../../core/pipeline/params.ts";
import { Pipeline, PipelineDefinitionError } from "../../core/pipeline/pipeline.ts";
import { layerProgress } from "../../core/pipeline/progress.ts";
import { resolveParams, runPipeline, type StageEvent } from "../../core/pipeline/runner.ts";
import { Stage } from "../../core/pipeline/stage.ts";
import { ArtifactStore } from "../../core/pipeline/store.ts";

const Sum = Schema.Struct({ total: Schema.Number });
const scaled = Stage.make({
  name: "scaled",
  description: "an item's value times the shared factor",
  source: import.meta.url,
  params: Schema.Struct({ item: Schema.Struct({ value: Schema.Number }), shared: Schema.Struct({ factor: Schema.Number }) }),
  inputs: {},
  output: jsonCodec(Sum),
  run: (_inputs, p) => Effect.succeed({ total: p.item.value * p.shared.factor })
});

let stepsRun = 0;
const Count = Schema.Struct({ value: Schema.Number, done: Schema.Boolean });
const countUp = Stage.loop({
  name: "count-up",
  description: "adds 1 per iteration and is final once it reaches the target",
  source: import.meta.url,
  params: Schema.Struct({ cap: Schema.Int, target: Schema.Int }),
  scheduleParams: ["cap"],
  iterations: (p) => p.cap,
  checkpointEvery: () => 2,
  inputs: {},
  state: jsonCodec(Count),
  init: () => Effect.succeed({ value: 0, done: false }),
  finished: (state) => state.done,
  step: (state, _inputs, p) =>
    Effect.sync(() => {
      stepsRun++;
      return { value: state.value + 1, done: state.value + 1 >= p.target };
    })
});

const pipeline = Pipeline.make({
  name: "shaped",
  description: "test pipeline: a node per configured item, and a self-stopping loop",
  defaults: { seed: 1, shared: { factor: 2 }, items: { a: { value: 1 }, b: { value: 3 } }, count: { cap: 10, target: 3 } },
  build: (p, params) => {
    const items = getPath(params, "items") as Record<string, JsonValue> | undefined;
    for (const name of Object.keys(items ?? {}).filter((n) => items![n] !== null).sort()) {
      if (!/^[a-z]+$/.test(name)) throw new PipelineDefinitionError({ message: `items.${name}: item names are lower-case letters.` });
      p.node(`scaled-${name}`, scaled, {}, { item: `items.${name}`, shared: "shared" });
    }
    p.loop("count", countUp, {}, "count");
  }
});

const echo = Stage.make({
  name: "echo",
  description: "its params, as its output",
  source: import.meta.url,
  params: Schema.String,
  inputs: {},
  output: jsonCodec(Schema.String),
  run: (_inputs, p) => Effect.succeed(p)
});

/** Defaults that follow a param: `mode` picks the value the node's params default to. */
const modal = Pipeline.make({
  name: "modal",
  description: "test pipeline: defaults that follow the mode asked for",
  defaults: { seed: 1, mode: "a", item: { value: 1 }, "mode-shared": { factor: 2 } },
  shapeFor: (asked) => ({ defaults: { seed: 1, mode: getPath(asked, "mode") ?? "a", item: { value: getPath(asked, "mode") === "b" ? 10 : 1 }, "mode-shared": { factor: 2 } }, presets: {} }),
  build: (p) => {
    p.node("scaled", scaled, {}, { item: "item", shared: "mode-shared" });
    p.node("mode", echo, {}, "mode");
  }
});

const storeRoot = mkdtempSync(join(tmpdir(), "otc-shaped-"));
const refused = mkdtempSync(join(tmpdir(), "otc-shaped-refused-"));
afterAll(() => [storeRoot, refused].forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const run = (sets: [string, JsonValue][] = [], root = storeRoot) => {
  const events: StageEvent[] = [];
  return runPipeline({ pipeline, storeRoot: root, sets, onEvent: (e) => events.push(e) }).pipe(
    Effect.map((result) => ({ result, status: Object.fromEntries(events.map((e) => [e.node, e.reason ? `${e.status}:${e.reason}` : e.status])) })),
    Effect.provide(Layer.mergeAll(ArtifactStore.layerFs(root), layerBackend(), layerProgress(true)))
  );
};

describe("pipelines shaped by their params", () => {
  it("take their defaults from what was asked, under the overrides", () => {
    expect(Pipeline.withParams(modal, undefined, []).defaults["item"]).toEqual({ value: 1 });
    expect(Pipeline.withParams(modal, undefined, [["mode", "b"]]).defaults["item"]).toEqual({ value: 10 });
    const overridden = Pipeline.withParams(modal, undefined, [["mode", "b"], ["item.value", 3]]);
    expect(overridden.defaults["item"]).toEqual({ value: 10 });
    expect(overridden.defaults["mode"]).toBe("b");
    const paramsOf = (sets: [string, JsonValue][]) => {
      const resolved = resolveParams(Pipeline.withParams(modal, undefined, sets), undefined, sets);
      if (Either.isLeft(resolved)) throw new Error(resolved.left.message);
      return resolved.right.nodes[0]!.params as { item: { value: number } };
    };
    expect(paramsOf([["mode", "b"]]).item.value).toBe(10);
    expect(paramsOf([["mode", "b"], ["item.value", 3]]).item.value).toBe(3);
    expect(paramsOf([]).item.value).toBe(1);
  });

  it.live("add a node per configured item, re-run only what a change touches, and refuse params they cannot be built from", () =>
    Effect.gen(function* () {
      const first = yield* run();
      expect(first.status).toMatchObject({ "scaled-a": "ran:MISSING", "scaled-b": "ran:MISSING" });
      const added = yield* run([["items.c.value", 5]]);
      expect(added.status).toMatchObject({ "scaled-a": "hit", "scaled-b": "hit", "scaled-c": "ran:MISSING" });
      const changedOne = yield* run([["items.b.value", 4]]);
      expect(changedOne.status).toMatchObject({ "scaled-a": "hit", "scaled-b": "ran:PARAMS" });
      const removed = yield* run([["items.a", null]]);
      expect(removed.status["scaled-a"]).toBeUndefined();
      expect(removed.status["scaled-b"]).toBe("hit");
      const changedShared = yield* run([["shared.factor", 3]]);
      expect(changedShared.status).toMatchObject({ "scaled-a": "ran:PARAMS", "scaled-b": "ran:PARAMS" });

      const bad = yield* Effect.exit(run([["items.B.value", 1]], refused));
      expect(Exit.isFailure(bad) && JSON.stringify(bad.cause)).toMatch(/items\.B: item names are lower-case letters.*UsageError/);
      expect(readdirSync(refused)).toEqual([]);
    })
  );

  it.live("stop a loop at its first final state, and give that state for any larger cap without iterating", () =>
    Effect.gen(function* () {
      stepsRun = 0;
      const first = yield* run([], mkdtempSync(join(tmpdir(), "otc-shaped-loop-")));
      expect(stepsRun).toBe(3);
      const state = first.result.results.get("count")!;
      expect(state.manifest.outputs["value"]!.blob).toBeDefined();

      const root = mkdtempSync(join(tmpdir(), "otc-shaped-loop-"));
      yield* run([], root);
      stepsRun = 0;
      const again = yield* run([], root);
      expect(again.status["count"]).toBe("hit");
      const raised = yield* run([["count.cap", 50]], root);
      expect(stepsRun).toBe(0);
      expect(raised.result.results.get("count")!.dataVersion).toBe(state.dataVersion);
      rmSync(root, { recursive: true, force: true });
    })
  );
});
