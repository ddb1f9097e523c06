/**
 * Experiments are data: a new calibration experiment is one definition registered in one place,
 * and its pipeline `calibrate-exp<id>` runs end to end with nothing else edited. This file is that
 * one place for a toy experiment 5 (3 LPs; only LP supertype 1's connectivities are calibrated,
 * towards a 40% market share), run at a tiny scale through the CLI in this process.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tableFromIPC } from "apache-arrow";
import { afterAll, describe, expect, it } from "vitest";
import { calibrationSpace, CONNECTIVITY_RANGE, connectivityOf, clippedLambda, targetReward } from "../../core/calibration/experiment.ts";
import { experimentDefinition, experimentIds, registerExperiment } from "../../core/calibration/experiments.ts";
import { calibrationPopulation } from "../../core/otc/config.ts";
import type { PipelineEntry } from "../../core/pipeline/cli.ts";
import { parquetToTable } from "../../core/pipeline/codecs/parquet.ts";
import { calibrationPipeline } from "../../pipelines/calibrate.ts";
import { setFlags, statuses } from "./cli.ts";
import { inProcessCli } from "./in-process-cli.ts";

// --- experiment 5, the whole definition -----------------------------------------------------
const space = calibrationSpace(Array.from({ length: 10 }, (_, j) => ({ name: `lp1.connect.lt${j + 1}`, range: CONNECTIVITY_RANGE, initial: 0.5 })));
registerExperiment({
  id: 5,
  summary: "toy: LP supertype 1 alone reaches for 40% of the flow (3 LPs)",
  nLp: 3,
  lpCounts: [1, 2],
  budgetEnvSteps: 1_000_000,
  space,
  targets: { kind: "shares", shareSuper1: 0.4, minShareTotal: 0.8 },
  // Supertype 2 stays connected to every LT supertype with probability 0.5.
  population: (lambda) =>
    calibrationPopulation({ nLp: 3, lp2RiskAversion: "shared" }, { connectivity: [connectivityOf([...clippedLambda(space, lambda, 5), ...Array(10).fill(0.5)])[0]!, Array(10).fill(0.5)] }),
  reward: targetReward,
  quick: { iterations: 3, learningRateRatio: 3 }
});
// ---------------------------------------------------------------------------------------------

const store = mkdtempSync(join(tmpdir(), "new-experiment-"));
afterAll(() => rmSync(store, { recursive: true, force: true }));

const entries: PipelineEntry[] = [{ name: "calibrate-exp5", description: "toy experiment 5", load: async () => calibrationPipeline(5) }];

const cli = inProcessCli(store, entries);

const tiny = setFlags([
  "calibration.checkpointEvery=2",
  "calibration.episodes=2",
  "calibration.horizon=10",
  "calibration.ppo.hidden=[8]",
  "calibration.ppo.sgdPasses=1",
  "calibration.calsheq.hidden=[8]",
  "calibration.bo.every=2",
  "calibration.rollouts.workers=0",
  "ecn.data.rows=600",
  "records.episodes=1"
]);

describe("a new calibration experiment", { timeout: 300_000 }, () => {
  it("is registered beside the paper's four and rejected params name the registered ones", async () => {
    expect(experimentIds()).toEqual([1, 2, 3, 4, 5]);
    expect(experimentDefinition(5).space.names).toHaveLength(10);
    const bad = await cli(["explain", "calibrate-exp5", "--set", "calibration.experiment=6"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/calibration\.experiment: .*registered experiment \(1, 2, 3, 4, 5\)/);
  });

  it("runs end to end through its pipeline: training, report and episode records", async () => {
    const result = await cli(["run", "calibrate-exp5", ...tiny, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    expect(Object.values(statuses(result.stdout)).every((s) => s === "ran:MISSING")).toBe(true);

    const shown = JSON.parse((await cli(["show", "calibrate-exp5", "--json"])).stdout) as {
      nodes: Array<{ node: string; files: Record<string, string> }>;
    };
    const files = (node: string) => shown.nodes.find((n) => n.node === node)!.files;
    const summary = JSON.parse(readFileSync(files("calibration-report")["summary.json"]!, "utf8")) as {
      experiment: number;
      targets: Record<string, number>;
      calsheq: { iterations: number; tail: Record<string, number> };
      bo: { iterations: number };
    };
    // The experiment's own schedule (3 iterations), targets and calibrated parameters reached the report.
    expect(summary.experiment).toBe(5);
    expect(summary.targets).toEqual({ m_super1: 0.4, m_total: 0.8 });
    expect(summary.calsheq.iterations).toBe(3);
    expect(summary.bo.iterations).toBe(3);
    const columns = parquetToTable(readFileSync(files("calibration-report")["iterations.parquet"]!)).schema.fields.map((f) => f.name);
    expect(columns).toEqual(expect.arrayContaining(["params/lp1.connect.lt1/mean", "params/lp1.connect.lt10/std"]));
    expect(columns.filter((c) => c.startsWith("params/")).length).toBe(2 * 10);
    // r_cal is experiment 5's: 1 / (1 + |0.4 - m_super1| + max(0.8 - m_total, 0)) <= 1.
    expect(summary.calsheq.tail["r_cal"]).toBeGreaterThan(0);
    expect(summary.calsheq.tail["r_cal"]).toBeLessThanOrEqual(1);

    // The market played is experiment 5's population: 3 LPs and 500 LTs per step.
    const table = tableFromIPC(readFileSync(files("episode-records")["value"]!));
    expect(table.numRows).toBe(1 * 10 * (3 + 500));
  });
});
