/**
 * Every pipeline's `paper` preset must be accepted as it stands: `pipeline explain <p> --preset
 * paper` decodes the whole params tree of every node, so a preset value its schema rejects (a
 * fractional iteration count, an unknown key) fails here instead of at the start of a
 * days-long run. The explain runs in-process against an empty store; nothing is trained.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
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

  for (const entry of registry) {
    it(`${entry.name}: explain --preset paper is accepted`, async () => {
      const pipeline = await entry.load();
      if (pipeline.presets.paper === undefined) return expect(Object.keys(pipeline.presets)).not.toContain("paper");
      const result = await cli(["explain", entry.name, "--preset", "paper", "--json"]);
      expect(result.code, result.stderr).toBe(0);
      const events = result.stdout.split("\n").filter((l) => l.startsWith('{"stage"')).map((l) => JSON.parse(l) as { node: string; status: string });
      // Every node is planned (an empty store: all will run).
      expect(events.map((e) => e.node).sort()).toEqual(pipeline.nodes.map((n) => n.id).sort());
      expect(events.every((e) => e.status === "will-run")).toBe(true);
    });
  }
});
