/**
 * A node that reads a param group without some of its fields (`{ from, omit }`): the omitted
 * settings are not its params, so changing them re-runs the nodes that read them and leaves it a
 * cache hit (as a baseline trainer that never reads the other method's settings); a --set that
 * only such fields would take is refused as no param of the pipeline; included pipelines keep the
 * omission under their root.
 */
import { it } from "@effect/vitest";
import { Effect, Either, Layer, Schema } from "effect";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect } from "vitest";
import { layerBackend } from "../../core/pipeline/backend.ts";
import { jsonCodec } from "../../core/pipeline/codecs/json.ts";
import type { JsonValue } from "../../core/pipeline/params.ts";
import { Pipeline, paramsLabel } from "../../core/pipeline/pipeline.ts";
import { layerProgress } from "../../core/pipeline/progress.ts";
import { resolveParams, runPipeline, type StageEvent } from "../../core/pipeline/runner.ts";
import { Stage } from "../../core/pipeline/stage.ts";
import { ArtifactStore } from "../../core/pipeline/store.ts";

const Value = Schema.Struct({ value: Schema.Number });
const both = Stage.make({
  name: "both",
  description: "reads the whole group",
  source: import.meta.url,
  params: Schema.Struct({ rate: Schema.Number, extra: Schema.Number }),
  inputs: {},
  output: jsonCodec(Value),
  run: (_inputs, p) => Effect.succeed({ value: p.rate + p.extra })
});
const rateOnly = Stage.make({
  name: "rate-only",
  description: "reads the group without `extra`",
  source: import.meta.url,
  params: Schema.Struct({ rate: Schema.Number }),
  inputs: {},
  output: jsonCodec(Value),
  run: (_inputs, p) => Effect.succeed({ value: 2 * p.rate })
});

const shared = Pipeline.make({
  name: "subset",
  description: "test pipeline: two nodes on one group, one without a field",
  defaults: { seed: 1, train: { rate: 1, extra: 1 } },
  build: (p) => {
    p.node("both", both, {}, "train");
    p.node("rate-only", rateOnly, {}, { from: "train", omit: ["extra"] });
  }
});
const alone = Pipeline.make({
  name: "subset-alone",
  description: "test pipeline: only the node without the field",
  defaults: { seed: 1, train: { rate: 1, extra: 1 } },
  build: (p) => {
    p.node("rate-only", rateOnly, {}, { from: "train", omit: ["extra"] });
  }
});
const parent = Pipeline.make({
  name: "subset-parent",
  description: "test pipeline: includes the first under `child`",
  defaults: { seed: 1, child: { train: { rate: 1, extra: 1 } } },
  build: (p) => {
    p.include("child", shared, "child");
  }
});

const storeRoot = mkdtempSync(join(tmpdir(), "otc-subset-"));
afterAll(() => rmSync(storeRoot, { recursive: true, force: true }));

const run = (pipeline: Pipeline, sets: [string, JsonValue][] = []) => {
  const events: StageEvent[] = [];
  return runPipeline({ pipeline, storeRoot, sets, onEvent: (e) => events.push(e) }).pipe(
    Effect.map(() => Object.fromEntries(events.map((e) => [e.node, e.reason ? `${e.status}:${e.reason}` : e.status]))),
    Effect.provide(Layer.mergeAll(ArtifactStore.layerFs(storeRoot), layerBackend(), layerProgress(true)))
  );
};

describe("a node reading a group without some fields", () => {
  it.live("is not re-run by a change of a field it does not read, and is by one it reads", () =>
    Effect.gen(function* () {
      expect(yield* run(shared)).toMatchObject({ both: "ran:MISSING", "rate-only": "ran:MISSING" });
      expect(yield* run(shared, [["train.extra", 2]])).toMatchObject({ both: "ran:PARAMS", "rate-only": "hit" });
      expect(yield* run(shared, [["train.rate", 3]])).toMatchObject({ both: "ran:PARAMS", "rate-only": "ran:PARAMS" });
      // Included under a root, the omission still holds.
      expect(yield* run(parent)).toMatchObject({ "child.both": "hit", "child.rate-only": "hit" });
      expect(yield* run(parent, [["child.train.extra", 5]])).toMatchObject({ "child.both": "ran:PARAMS", "child.rate-only": "hit" });
    })
  );

  it("refuses a --set that only an omitted field would take, and shows the omission", () => {
    const refused = resolveParams(alone, undefined, [["train.extra", 2]]);
    expect(Either.isLeft(refused) && refused.left.message).toMatch(/--set train\.extra: pipeline "subset-alone" has no such param/);
    expect(Either.isRight(resolveParams(alone, undefined, [["train.rate", 2]]))).toBe(true);
    expect(Either.isRight(resolveParams(shared, undefined, [["train.extra", 2]]))).toBe(true);
    expect(paramsLabel(alone.instantiate(alone.defaults).nodes[0]!)).toBe("train without extra");
  });
});
