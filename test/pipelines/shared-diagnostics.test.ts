/**
 * The shared-policy stages end to end through the CLI at a tiny scale (test/pipelines/shared-main.ts):
 * train-shared on the section 5.2 population, the exploitability of LP 0, and the report of the
 * reward over training per supertype with its slope sign changes.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cliRunner } from "./cli.ts";
import { emergentBehaviourPopulation } from "../../core/otc/config.ts";
import { expectDescribed } from "./described.ts";

const store = mkdtempSync(join(tmpdir(), "shared-diagnostics-test-"));
afterAll(() => rmSync(store, { recursive: true, force: true }));

const sets = [
  "shared.training.iterations=3",
  "shared.training.episodes=2",
  "shared.training.horizon=10",
  "shared.training.lp.hidden=[8]",
  "shared.training.lt.hidden=[8]",
  "shared.exploitability.fineTuneIterations=2",
  "shared.exploitability.evaluationBatches=2",
  "shared.exploitability.ppo.hidden=[8]",
  "ecn.data.rows=600",
  "report.smoothing=2"
].flatMap((s) => ["--set", s]);


const run = cliRunner("test/pipelines/shared-main.ts", store);

describe("shared-diagnostics pipeline", { timeout: 300_000 }, () => {
  it("trains, estimates exploitability and reports reward curves per supertype", async () => {
    const first = await run(["run", "shared-diagnostics", ...sets, "--json"]);
    expect(first.code, first.stderr).toBe(0);
    const shown = await run(["show", "shared-diagnostics", "--json"]);
    expect(shown.code, shown.stderr).toBe(0);
    const nodes = (JSON.parse(shown.stdout) as { nodes: Array<{ node: string; summary: unknown; files: Record<string, string> }> }).nodes;
    expectDescribed(nodes.find((n) => n.node === "shared-report")!.files["iterations.parquet"]!, ["iteration", "env_steps"]);
    const ex = nodes.find((n) => n.node === "exploitability")!.summary as { gain: number; gainStdError: number; episodes: number; fineTuneRewards: number[] };
    expect(Number.isFinite(ex.gain)).toBe(true);
    expect(ex.gainStdError).toBeGreaterThanOrEqual(0);
    expect(ex.episodes).toBe(2 * 2);
    expect(ex.fineTuneRewards).toHaveLength(2);
    const report = nodes.find((n) => n.node === "shared-report")!.summary as { iterations: number; series: Record<string, { signChanges: number }> };
    expect(report.iterations).toBe(3);
    const population = emergentBehaviourPopulation();
    for (const s of population.lp) expect(Object.keys(report.series)).toContain(`rewards/lp_${s.name}`);
    for (const s of population.lt) expect(Object.keys(report.series)).toContain(`rewards/lt_${s.name}`);
  });

  it("stops train-shared on its diagnostics under the converged rule; raising the cap runs no iteration", async () => {
    // Curves flat by the drift tolerance and a deviation test that cannot fail: training stops at
    // the first check (iteration 4), far before the cap of 12, after running the deviation test.
    const converged = (cap: number) => [
      ...sets,
      ...[
        `shared.training.iterations=${cap}`,
        "shared.training.stopping.rule=converged",
        "shared.training.stopping.window=3",
        "shared.training.stopping.minIterations=4",
        "shared.training.stopping.every=4",
        "shared.training.stopping.driftTolerance=1e9",
        "shared.training.stopping.exploitability.fineTuneIterations=1",
        "shared.training.stopping.exploitability.evaluationBatches=2",
        "shared.training.stopping.exploitability.stdErrors=1e9"
      ].flatMap((s) => ["--set", s])
    ];
    const iterationsRun = (stdout: string) => stdout.split("\n").filter((l) => l.includes('"event":"iteration"') && l.includes('"node":"train-shared"')).length;
    const first = await run(["run", "shared-diagnostics", ...converged(12), "--json"]);
    expect(first.code, first.stderr).toBe(0);
    expect(iterationsRun(first.stdout)).toBe(4);
    const shown = JSON.parse((await run(["show", "shared-diagnostics", "shared-report", ...converged(12), "--json"])).stdout) as { nodes: Array<{ summary: { iterations: number; stopping: { rule: string; stoppedBy: string; lastCheck: { iterations: number; exploitability: { withinNoise: boolean } | null } } } }> };
    expect(shown.nodes[0]!.summary.iterations).toBe(4);
    expect(shown.nodes[0]!.summary.stopping).toMatchObject({ rule: "converged", stoppedBy: "diagnostics", lastCheck: { iterations: 4, exploitability: { withinNoise: true } } });
    const raised = await run(["run", "shared-diagnostics", ...converged(20), "--json"]);
    expect(raised.code, raised.stderr).toBe(0);
    expect(iterationsRun(raised.stdout)).toBe(0);
  });
});
