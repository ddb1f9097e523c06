/**
 * A pipeline that includes another's nodes (`include`, as the reproduction pipeline includes the
 * experiments'): the included nodes are `<prefix>.<id>`, read their params under the given root,
 * follow the shape those params give, and keep their own cache keys and random streams, so a
 * result the included pipeline cached when run on its own is a hit, and the numbers drawn are
 * the same. A change under one root re-runs only that include's nodes.
 */
import { it } from "@effect/vitest";
import { Effect, Layer, Schema } from "effect";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect } from "vitest";
import { layerBackend } from "../../core/pipeline/backend.ts";
import { jsonCodec } from "../../core/pipeline/codecs/json.ts";
import { getPath, type JsonValue } from "../../core/pipeline/params.ts";
import { Pipeline, PipelineDefinitionError, type Pipeline as PipelineType } from "../../core/pipeline/pipeline.ts";
import { layerProgress } from "../../core/pipeline/progress.ts";
import { Rng } from "../../core/pipeline/rng.ts";
import { runPipeline, type StageEvent } from "../../core/pipeline/runner.ts";
import { Stage } from "../../core/pipeline/stage.ts";
import { ArtifactStore } from "../../core/pipeline/store.ts";

const Draw = Schema.Struct({ value: Schema.Number });
const draw = Stage.make({
  name: "draw",
  description: "a uniform draw from the node's stream, times a scale",
  source: import.meta.url,
  params: Schema.Struct({ scale: Schema.Number }),
  inputs: {},
  output: jsonCodec(Draw),
  run: (_inputs, p) => Effect.map(Rng, (rng) => ({ value: rng.stream.uniform() * p.scale }))
});
const plus = Stage.make({
  name: "plus",
  description: "its input plus an offset",
  source: import.meta.url,
  params: Schema.Struct({ offset: Schema.Number }),
  inputs: { x: jsonCodec(Draw) },
  output: jsonCodec(Draw),
  run: (inputs, p) => Effect.succeed({ value: inputs.x.value + p.offset })
});
const total = Stage.make({
  name: "total",
  description: "the sum of its two inputs",
  source: import.meta.url,
  params: Schema.Struct({}),
  inputs: { a: jsonCodec(Draw), b: jsonCodec(Draw) },
  output: jsonCodec(Draw),
  run: (inputs) => Effect.succeed({ value: inputs.a.value + inputs.b.value })
});

/** The included pipeline: a draw, and one `plus` node per configured offset (shaped by its params). */
const inner = Pipeline.make({
  name: "inner",
  description: "test pipeline: a random draw and a node per configured offset",
  defaults: { seed: 1, draw: { scale: 10 }, offsets: { a: { offset: 1 } } },
  build: (p, params) => {
    const x = p.node("draw", draw, {}, "draw");
    const offsets = getPath(params, "offsets") as Record<string, JsonValue>;
    for (const name of Object.keys(offsets).sort()) p.node(`plus-${name}`, plus, { x }, `offsets.${name}`);
  }
});

const { seed: _seed, ...innerDefaults } = inner.defaults;
const outer = Pipeline.make({
  name: "outer",
  description: "test pipeline: the inner pipeline twice, and their total",
  defaults: { seed: 1, one: innerDefaults, two: { ...innerDefaults, draw: { scale: 100 } }, total: {} },
  build: (p) => {
    const one = p.include("one", inner, "one");
    const two = p.include("two", inner, "two", "draw");
    p.node("total", total, { a: one.output("plus-a", plus), b: two.output("draw", draw) }, "total");
  }
});

const storeRoot = mkdtempSync(join(tmpdir(), "otc-include-"));
afterAll(() => rmSync(storeRoot, { recursive: true, force: true }));

const run = (pipeline: PipelineType, sets: [string, JsonValue][] = []) => {
  const events: StageEvent[] = [];
  return runPipeline({ pipeline, storeRoot, sets, onEvent: (e) => events.push(e) }).pipe(
    Effect.map(() => Object.fromEntries(events.map((e) => [e.node, e.reason ? `${e.status}:${e.reason}` : e.status]))),
    Effect.provide(Layer.mergeAll(ArtifactStore.layerFs(storeRoot), layerBackend(), layerProgress(true)))
  );
};

const valueOf = (pipeline: PipelineType, node: string, sets: [string, JsonValue][] = []) =>
  Effect.gen(function* () {
    const events: StageEvent[] = [];
    yield* runPipeline({ pipeline, storeRoot, sets, onEvent: (e) => events.push(e) }).pipe(
      Effect.provide(Layer.mergeAll(ArtifactStore.layerFs(storeRoot), layerBackend(), layerProgress(true)))
    );
    const store = yield* Effect.provide(ArtifactStore, ArtifactStore.layerFs(storeRoot));
    const key = events.find((e) => e.node === node)!.key;
    const manifest = (yield* store.readManifest(key))!;
    const bytes = yield* store.getBlob(manifest.outputs["value"]!.blob);
    return (JSON.parse(new TextDecoder().decode(bytes)) as { value: number }).value;
  });

describe("pipelines that include another's nodes", () => {
  it("name included nodes <prefix>.<id>, follow the shape their params give, and stop at `until`", () => {
    expect(outer.nodes.map((n) => n.id)).toEqual(["one.draw", "one.plus-a", "two.draw", "total"]);
    const shaped = Pipeline.withParams(outer, undefined, [["one.offsets.b.offset", 5]]);
    expect(shaped.nodes.map((n) => n.id)).toEqual(["one.draw", "one.plus-a", "one.plus-b", "two.draw", "total"]);
    expect(() =>
      Pipeline.make({ name: "bad", description: "a bad prefix", defaults: { seed: 1, x: innerDefaults }, build: (p) => void p.include("Bad Prefix", inner, "x") })
    ).toThrow(PipelineDefinitionError);
    // An included output is typed by the stage it runs, checked when the pipeline is built.
    const wrongStage = () =>
      Pipeline.make({ name: "wrong", description: "a wrong stage", defaults: { seed: 1, x: innerDefaults }, build: (p) => void p.include("x", inner, "x").output("draw", plus) });
    expect(wrongStage).toThrow(/"x\.draw" runs stage "draw", not "plus"/);
    // Several targets: each one's ancestors, once, in the included pipeline's order.
    const twoOffsets = { ...innerDefaults, offsets: { a: { offset: 1 }, b: { offset: 2 }, c: { offset: 3 } } };
    const partial = Pipeline.make({
      name: "partial",
      description: "two of three offsets",
      defaults: { seed: 1, x: twoOffsets },
      build: (p) => void p.include("x", inner, "x", ["plus-c", "plus-a"])
    });
    expect(partial.nodes.map((n) => n.id)).toEqual(["x.draw", "x.plus-a", "x.plus-c"]);
    const missing = () => Pipeline.make({ name: "missing", description: "an unknown target", defaults: { seed: 1, x: twoOffsets }, build: (p) => void p.include("x", inner, "x", ["plus-a", "plus-z"]) });
    expect(missing).toThrow(/has no such node/);
  });

  it.live("share the included pipeline's cached results and random numbers; a change under one root re-runs only its nodes", () =>
    Effect.gen(function* () {
      const alone = yield* run(inner);
      expect(alone).toEqual({ draw: "ran:MISSING", "plus-a": "ran:MISSING" });
      const included = yield* run(outer);
      // `one` has inner's own params: hits. `two` draws at another scale: it runs.
      expect(included).toEqual({ "one.draw": "hit", "one.plus-a": "hit", "two.draw": "ran:MISSING", total: "ran:MISSING" });
      const drawnAlone = yield* valueOf(inner, "draw");
      const drawnIncluded = yield* valueOf(outer, "one.draw");
      expect(drawnIncluded).toBe(drawnAlone);
      // The same node name and seed draw the same number whatever the scale: two.draw = 10 x one.draw.
      expect(yield* valueOf(outer, "two.draw")).toBeCloseTo(10 * drawnAlone, 10);
      expect(drawnAlone).toBeGreaterThan(0);

      const changed = yield* run(outer, [["two.draw.scale", 1000]]);
      expect(changed).toEqual({ "one.draw": "hit", "one.plus-a": "hit", "two.draw": "ran:PARAMS", total: "ran:INPUT" });
    })
  );
});
