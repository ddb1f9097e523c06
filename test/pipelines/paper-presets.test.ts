/**
 * Every pipeline's `paper` and `converged` presets must be accepted as they stand: `pipeline
 * explain <p> --preset <preset>` decodes the whole params tree of every node, so a preset value
 * its schema rejects (a fractional iteration count, an unknown key) fails here instead of at the
 * start of an hours-long run. Every pipeline has a `converged` preset (training that stops on the
 * equilibrium diagnostics). The explain runs in-process against an empty store; nothing is trained.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Pipeline } from "../../core/pipeline/pipeline.ts";
import { registry } from "../../pipelines/index.ts";
import { inProcessCli } from "./in-process-cli.ts";

const store = mkdtempSync(join(tmpdir(), "paper-presets-"));
afterAll(() => rmSync(store, { recursive: true, force: true }));

const cli = inProcessCli(store);

describe("paper presets", { timeout: 120_000 }, () => {
  it("at least the calibration experiments define one", async () => {
    // One at a time: vitest's module runner can hand a module still being evaluated to a second,
    // concurrent dynamic import of it (plain Node waits), so concurrent loads are flaky here.
    const withPaper: string[] = [];
    for (const e of registry) if ((await e.load()).presets.paper) withPaper.push(e.name);
    expect(withPaper).toEqual(expect.arrayContaining(["calibrate-exp1", "calibrate-exp2", "calibrate-exp3", "calibrate-exp4"]));
  });

  it("every pipeline defines a converged preset", async () => {
    const without: string[] = [];
    for (const e of registry) if ((await e.load()).presets.converged === undefined) without.push(e.name);
    expect(without).toEqual([]);
  });

  for (const [entry, preset] of registry.flatMap((e) => [[e, "paper"], [e, "converged"]] as const)) {
    it(`${entry.name}: explain --preset ${preset} is accepted`, async () => {
      const pipeline = await entry.load();
      if (pipeline.presets[preset] === undefined) return expect(Object.keys(pipeline.presets)).not.toContain(preset);
      const result = await cli(["explain", entry.name, "--preset", preset, "--json"]);
      expect(result.code, result.stderr).toBe(0);
      const events = result.stdout.split("\n").filter((l) => l.startsWith('{"stage"')).map((l) => JSON.parse(l) as { node: string; status: string });
      // Every node of the pipeline as the preset shapes it is planned (an empty store: all will run).
      expect(events.map((e) => e.node).sort()).toEqual(Pipeline.withParams(pipeline, preset, []).nodes.map((n) => n.id).sort());
      expect(events.every((e) => e.status === "will-run")).toBe(true);
    });
  }
});
