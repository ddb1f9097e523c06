/**
 * `pipeline params` lists what `--set` takes, from the stages' Schemas: for every pipeline, every
 * leaf of the params tree a run resolves (defaults and schema defaults filled in) is listed with a
 * type and a meaning; for the main job every listed param set to its listed default is accepted
 * by `explain` and changes nothing; the preset column shows the preset's values; and a param that
 * is not listed is refused by a run.
 */
import { Either } from "effect";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { ParamDoc } from "../../core/pipeline/params-doc.ts";
import { resolveParams } from "../../core/pipeline/runner.ts";
import { absoluteParamPath, type PipelineNode } from "../../core/pipeline/pipeline.ts";
import { registry } from "../../pipelines/index.ts";
import { inProcessCli } from "./in-process-cli.ts";

const store = mkdtempSync(join(tmpdir(), "otc-params-"));
afterAll(() => rmSync(store, { recursive: true, force: true }));

const cli = inProcessCli(store);

const listed = async (name: string, preset?: string): Promise<ParamDoc[]> => {
  const result = await cli(["params", name, "--json", ...(preset ? ["--preset", preset] : [])]);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout.trim().split("\n").map((l) => JSON.parse(l) as ParamDoc);
};

/** The leaf paths of the params a run resolves, independently of the listing: the encoded tree of every node. */
const resolvedLeaves = async (name: string): Promise<string[]> => {
  const pipeline = await registry.find((p) => p.name === name)!.load();
  const resolved = resolveParams(pipeline, undefined, []);
  if (Either.isLeft(resolved)) throw new Error(resolved.left.message);
  const leaves = new Set<string>(["seed"]);
  const walk = (v: unknown, path: string, node: PipelineNode) => {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) walk(x, path === "" ? k : `${path}.${k}`, node);
    else leaves.add(absoluteParamPath(node, path));
  };
  for (const item of resolved.right.nodes) walk(item.encodedParams, "", item.node);
  return [...leaves];
};

describe("pipeline params", { timeout: 300_000 }, () => {
  for (const entry of registry) {
    it(`${entry.name}: lists every resolved param with a type and a meaning`, async () => {
      const docs = await listed(entry.name);
      const paths = new Set(docs.map((d) => d.path));
      const unlisted = (await resolvedLeaves(entry.name)).filter((leaf) => !paths.has(leaf) && ![...paths].some((p) => leaf.startsWith(`${p}.`)));
      expect(unlisted).toEqual([]);
      expect(docs.filter((d) => d.meaning === null || d.meaning.trim() === "").map((d) => d.path)).toEqual([]);
      expect(docs.every((d) => d.type.length > 0)).toBe(true);
    });
  }

  it("every listed param of every pipeline can be set on its own to its listed value", async () => {
    for (const entry of registry) {
      const pipeline = await entry.load();
      const docs = (await listed(entry.name)).filter((d) => d.value !== null);
      const refused: string[] = [];
      for (const d of docs) {
        const pair = `${d.path}=${JSON.stringify(d.value)}`;
        const resolved = resolveParams(pipeline, undefined, [[d.path, d.value!]]);
        if (Either.isLeft(resolved)) refused.push(`${pair}: ${resolved.left.message}`);
      }
      expect(refused, entry.name).toEqual([]);
    }
  });

  it("calibrate-exp4: every listed default is accepted by --set and changes no key", async () => {
    const docs = await listed("calibrate-exp4", "paper");
    expect(docs.find((d) => d.path === "calibration.iterations")).toMatchObject({ value: 400, presetValue: 3334 });
    const baseline = await cli(["explain", "calibrate-exp4", "--json"]);
    const keys = (stdout: string) => stdout.split("\n").filter((l) => l.startsWith('{"stage"')).map((l) => (JSON.parse(l) as { key: string }).key);
    const sets = docs.filter((d) => d.value !== null).flatMap((d) => ["--set", `${d.path}=${JSON.stringify(d.value)}`]);
    const same = await cli(["explain", "calibrate-exp4", "--json", ...sets]);
    expect(same.code, same.stderr).toBe(0);
    expect(keys(same.stdout)).toEqual(keys(baseline.stdout));
    const unknown = await cli(["explain", "calibrate-exp4", "--set", "calibration.ppo.learningRat=0.1"]);
    expect(unknown.code).toBe(2);
  });
});
