/**
 * The main job's pipeline end to end through the CLI, at a tiny scale: every stage runs, a re-run
 * is all cache hits, raising the iteration budget re-runs only the training loops (from their
 * checkpoints) and the report, a report option re-runs only the report, and `show --json` carries
 * the summary figures under the paper's names for CALSHEQ and BO.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tableFromIPC } from "apache-arrow";
import { parquetToTable } from "../../core/pipeline/codecs/parquet.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { launcherRunner, setFlags, statuses } from "./cli.ts";
import { expectDescribed } from "./described.ts";

const store = mkdtempSync(join(tmpdir(), "calibrate-test-"));
afterAll(() => rmSync(store, { recursive: true, force: true }));




// Through the launcher users run (an esbuild bundle, plain Node): what works only under tsx fails here.
const run = launcherRunner("pipelines/main.ts", store);
// The pipeline's tiny preset (a few iterations of tiny networks), with the test's own overrides.
const sets = (extra: string[] = []) => ["--preset", "tiny", ...setFlags(extra)];

describe("calibrate-exp4 pipeline", { timeout: 600_000 }, () => {
  it("runs, caches, resumes and reports", async () => {
    const first = await run(["run", "calibrate-exp4", ...sets(), "--json"]);
    expect(first.code, first.stderr).toBe(0);
    expect(statuses(first.stdout)).toEqual({
      "load-l2": "ran:MISSING",
      "fit-ecn-gmm": "ran:MISSING",
      "train-ecn-sim-model": "ran:MISSING",
      "train-calsheq": "ran:MISSING",
      "train-bo": "ran:MISSING",
      "calibration-report": "ran:MISSING",
      "episode-records": "ran:MISSING",
      "equilibrium-probe": "ran:MISSING"
    });
    expect(first.stderr).toMatch(/synthetic level-2 data/);

    // The first run's rollouts ran on a worker thread ("auto"); the worker count is an execution
    // param: running in the main thread instead is the same result, so everything is a hit.
    const again = await run(["run", "calibrate-exp4", ...sets(["calibration.rollouts.workers=0"]), "--json"]);
    expect(Object.values(statuses(again.stdout)).every((s) => s === "hit")).toBe(true);

    const plan = await run(["explain", "calibrate-exp4", ...sets(["calibration.iterations=5"]), "--json"]);
    const planned = plan.stdout.split("\n").filter((l) => l.includes('"train-calsheq"')).map((l) => JSON.parse(l) as { detail?: string });
    expect(planned[0]?.detail).toBe("changed calibration.iterations (3 -> 5); resumes from checkpoint 3 of 5");
    const more = await run(["run", "calibrate-exp4", ...sets(["calibration.iterations=5"]), "--json"]);
    expect(statuses(more.stdout)).toEqual({
      "load-l2": "hit",
      "fit-ecn-gmm": "hit",
      "train-ecn-sim-model": "hit",
      "train-calsheq": "ran:PARAMS",
      "train-bo": "ran:PARAMS",
      "calibration-report": "ran:INPUT",
      "episode-records": "ran:INPUT",
      "equilibrium-probe": "ran:INPUT"
    });

    const report = await run(["run", "calibrate-exp4", ...sets(["calibration.iterations=5", "report.tailFraction=0.5"]), "--json"]);
    expect(statuses(report.stdout)).toEqual({
      "load-l2": "hit",
      "fit-ecn-gmm": "hit",
      "train-ecn-sim-model": "hit",
      "train-calsheq": "hit",
      "train-bo": "hit",
      "calibration-report": "ran:PARAMS",
      "episode-records": "hit",
      "equilibrium-probe": "hit"
    });

    const shown = await run(["show", "calibrate-exp4", "calibration-report", "--json"]);
    expect(shown.code, shown.stderr).toBe(0);
    const node = (JSON.parse(shown.stdout) as { nodes: Array<{ summary: Record<string, { iterations: number; tail: Record<string, number> }>; files: Record<string, string> }> }).nodes[0]!;
    for (const method of ["calsheq", "bo"]) {
      expect(node.summary[method]!.iterations).toBe(5);
      for (const name of ["r_cal", "m_super1", "m_total"]) expect(Number.isFinite(node.summary[method]!.tail[name])).toBe(true);
    }
    // The report names the calibrators as they ran: the quick default is the paper's no-state ablation.
    const methods = (node.summary as unknown as { methods: { calsheq: string; bo: string } }).methods;
    expect(methods.calsheq).toMatch(/^CALSHEQ_no_state .*alpha_cal \/ alpha_shared = 20\b/);
    expect(methods.bo).toMatch(/a proposal every 2 iterations/);
    expect(Object.keys(node.files)).toEqual(expect.arrayContaining(["report.html", "iterations.parquet", "summary.json"]));
    // The per-iteration table describes itself: integer counters, labelled methods, the targets beside the observed values.
    const iterations = parquetToTable(readFileSync(node.files["iterations.parquet"]!));
    expect(String(iterations.schema.fields.find((f) => f.name === "iteration")?.type)).toBe("Int32");
    expect(String(iterations.schema.fields.find((f) => f.name === "method")?.type)).toMatch(/^Dictionary/);
    expect(JSON.parse(iterations.schema.metadata.get("otc.targets")!)).toEqual({ m_super1: 0.25, m_total: 0.8 });
    expect(Array.from(iterations.getChild("targets/m_super1")!.toArray() as Float64Array)).toEqual(Array(10).fill(0.25));
    expect(Array.from(iterations.getChild("observed/m_super1")!.toArray() as Float64Array).every((x) => x >= 0 && x <= 1)).toBe(true);
    // Figure 7's bands: the spread of each LP supertype's episode rewards, never negative.
    const spread = iterations.getChild("rewards/lp_super2_std")!.toArray() as Float64Array;
    expect(spread.length).toBe(10);
    expect(Array.from(spread).every((x) => x >= 0)).toBe(true);
    // The exported page says where it came from: the run that wrote it, what was asked, the seed and data.
    const newest = JSON.parse((await run(["runs", "calibrate-exp4", "--json"])).stdout.split("\n")[0]!) as { id: string };
    const page = readFileSync(node.files["report.html"]!, "utf8");
    expect(page).toContain(`run ${newest.id}`);
    expect(page).toMatch(/overrides [^&]*report\.tailFraction=0\.5/);
    expect(page).toMatch(/seed 1 &middot; data files none/);
    // Figures carry the paper's numbers: experiment 4's target fit is figure 28, its parameters figure 32.
    for (const figure of ["Figure 7", "Figure 28", "Figure 32"]) expect(page).toContain(figure);

    // Episode records: one row per agent (10 LPs + 500 LTs) per step of each recorded episode.
    const records = await run(["show", "calibrate-exp4", "episode-records", "--json"]);
    const files = (JSON.parse(records.stdout) as { nodes: Array<{ files: Record<string, string> }> }).nodes[0]!.files;
    const table = tableFromIPC(readFileSync(files["value"]!));
    expect(table.numRows).toBe(4 * 10 * 510);
    expect(table.schema.fields.map((f) => f.name)).toEqual(expect.arrayContaining(["episode", "t", "agent", "inventory", "pnlSpread", "marketShare"]));
    expect(files["episodes.parquet"]).toMatch(/\.parquet$/);
    const l2 = JSON.parse((await run(["show", "calibrate-exp4", "load-l2", ...sets(), "--json"])).stdout) as { nodes: Array<{ files: Record<string, string> }> };
    expectDescribed(l2.nodes[0]!.files["snapshots.parquet"]!);
  });

  it("runs the simulator on a neural ECN model with --set ecn.model=neural-shared", async () => {
    const neuralSets = sets(["ecn.model=neural-shared", "ecn.neural.train.maxEpochs=1", "ecn.neural.train.window=4", "calibration.iterations=5"]);
    const result = await run(["run", "calibrate-exp4", ...neuralSets, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const status = statuses(result.stdout);
    expect(status["train-ecn-sim-model"]).toBe("ran:PARAMS");
    expect(status["train-calsheq"]).toBe("ran:INPUT");
    // The records were played on books driven by the network: the mid price stays finite and positive.
    const records = await run(["show", "calibrate-exp4", "episode-records", ...neuralSets, "--json"]);
    const files = (JSON.parse(records.stdout) as { nodes: Array<{ files: Record<string, string> }> }).nodes[0]!.files;
    const table = tableFromIPC(readFileSync(files["value"]!));
    expect(table.numRows).toBe(4 * 10 * 510);
    const mid = table.getChild("midNext")!.toArray() as Float64Array;
    expect(mid.every((v) => Number.isFinite(v) && v > 0)).toBe(true);
  });

  it("reports experiment 1's trade-size percentile targets as the paper's figure 8", async () => {
    const result = await run(["run", "calibrate-exp1", ...sets(), "--until", "calibration-report", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const shown = JSON.parse((await run(["show", "calibrate-exp1", "calibration-report", "--json"])).stdout) as { nodes: Array<{ files: Record<string, string> }> };
    const page = readFileSync(shown.nodes[0]!.files["report.html"]!, "utf8");
    // Experiment 1 targets supertype 1's nine percentiles only (table 5); its parameters are figure 29.
    const charts = new Set(page.match(/Figure 8: supertype \d: \d+th percentile/g) ?? []);
    expect([...charts].sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map((k) => `Figure 8: supertype 1: ${k * 10}th percentile`).sort());
    expect(page).toContain("Figure 29");
  });

  it("stops on the equilibrium diagnostics under the converged rule; raising the cap runs no iteration", async () => {
    // Curves flat by the drift tolerance and a deviation test that cannot fail: both runs stop at
    // the first check (iteration 4) with the deviation test run, far before the cap of 12.
    const converged = (cap: number) =>
      sets([
        `calibration.iterations=${cap}`,
        "calibration.stopping.rule=converged",
        "calibration.stopping.window=3",
        "calibration.stopping.minIterations=4",
        "calibration.stopping.every=4",
        "calibration.stopping.driftTolerance=1e9",
        "calibration.stopping.exploitability.fineTuneIterations=1",
        "calibration.stopping.exploitability.evaluationBatches=2",
        "calibration.stopping.exploitability.stdErrors=1e9"
      ]);
    const first = await run(["run", "calibrate-exp4", ...converged(12), "--until", "calibration-report", "--json"]);
    expect(first.code, first.stderr).toBe(0);
    const iterationsRun = (stdout: string) => stdout.split("\n").filter((l) => l.includes('"event":"iteration"')).length;
    expect(iterationsRun(first.stdout)).toBe(2 * 4);
    const shown = JSON.parse((await run(["show", "calibrate-exp4", "calibration-report", ...converged(12), "--json"])).stdout) as {
      nodes: Array<{ summary: Record<string, { iterations: number; stopping: { rule: string; stoppedBy: string; lastCheck: { iterations: number; exploitability: { withinNoise: boolean } | null } } }>; files: Record<string, string> }>;
    };
    const node = shown.nodes[0]!;
    for (const method of ["calsheq", "bo"]) {
      const summary = node.summary[method]!;
      expect(summary.iterations).toBe(4);
      expect(summary.stopping).toMatchObject({ rule: "converged", stoppedBy: "diagnostics", lastCheck: { iterations: 4, exploitability: { withinNoise: true } } });
    }
    expect(readFileSync(node.files["report.html"]!, "utf8")).toContain("Stopping");

    // A larger cap: the loops find their stopped state and run nothing; the report's inputs are the same bytes.
    const raised = await run(["run", "calibrate-exp4", ...converged(20), "--until", "calibration-report", "--json"]);
    expect(raised.code, raised.stderr).toBe(0);
    expect(iterationsRun(raised.stdout)).toBe(0);
    expect(statuses(raised.stdout)["calibration-report"]).toBe("hit");
  });
});
