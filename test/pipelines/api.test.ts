/**
 * Pipelines run from TypeScript (`otc-marl/pipelines`) as from the CLI: results land in the store
 * with their export files, a second call with the same params is all cache hits, and a bad name
 * or param is refused with one sentence.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PipelineApiError, runPipelineByName } from "../../pipelines/api.ts";
import type { StageEvent } from "../../core/pipeline/runner.ts";

const store = mkdtempSync(join(tmpdir(), "otc-api-"));
afterAll(() => rmSync(store, { recursive: true, force: true }));

describe("runPipelineByName", { timeout: 300_000 }, () => {
  it("runs, caches and refuses like the CLI", async () => {
    const first: StageEvent[] = [];
    const outcome = await runPipelineByName("ecn-fit", { store, onEvent: (e) => first.push(e) });
    expect(first.map((e) => e.status)).not.toContain("hit");
    expect(outcome.nodes["fit-ecn-gmm"]!.files).toContain("value.json");
    const again: StageEvent[] = [];
    await runPipelineByName("ecn-fit", { store, onEvent: (e) => again.push(e) });
    expect(again.map((e) => e.status).every((s) => s === "hit")).toBe(true);
    await expect(runPipelineByName("no-such-pipeline", { store })).rejects.toThrow(/Unknown pipeline "no-such-pipeline"; known pipelines: calibrate-exp4/);
    await expect(runPipelineByName("ecn-fit", { store, set: { "ecn.gmm.nInit": -1 } })).rejects.toBeInstanceOf(PipelineApiError);
  });
});
