/**
 * The `what-if` pipeline through the shipped CLI, on experiment 4's population (10 LPs, 500 LTs:
 * the paper's sizes) with a short calibration: the control scenario (no change) shows no
 * difference in any metric; raising LP supertype 2's risk aversion lowers its mean absolute
 * inventory and raises its hedge fraction (the signs of paper section 5.2: a more risk-averse LP
 * holds less and hedges more), with intervals excluding 0; tripling the ECN's spread sends more
 * of the takers' flow to the LPs and raises the takers' cost; the warm start settles in fewer
 * iterations than training from fresh weights; changing one scenario re-runs only that
 * scenario's nodes; the calibration is the calibration pipeline's own (cached once for both, and
 * `whatif.from` picks another experiment's); and a bad scenario path or value exits 2 with one
 * sentence, writing nothing.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parquetToTable } from "../../core/pipeline/codecs/parquet.ts";
import { launcherRunner, setFlags, statuses } from "./cli.ts";
import { expectDescribed } from "./described.ts";

const store = mkdtempSync(join(tmpdir(), "whatif-test-"));
const untouched = mkdtempSync(join(tmpdir(), "whatif-refused-"));
afterAll(() => {
  rmSync(store, { recursive: true, force: true });
  rmSync(untouched, { recursive: true, force: true });
});

const small = setFlags([
  "calibration.iterations=40",
  "whatif.rule.window=5",
  "whatif.rule.minIterations=5",
  "whatif.rule.maxIterations=20",
  "whatif.evaluation.episodes=20",
  "whatif.scenarios.wide-ecn.ecn.spreadScale=3",
  // The slopes alone decide here; the deviation test is exercised by the rule's own tests.
  "whatif.rule.exploitability.fineTuneIterations=0"
]);

interface Row {
  scenario: string;
  metric: string;
  entity: string;
  ci_low: number;
  ci_high: number;
}

describe("what-if pipeline", { timeout: 600_000 }, () => {
  it("refuses a scenario path that names nothing, or a value out of its range, before writing anything", async () => {
    const refused = launcherRunner("pipelines/main.ts", untouched);
    const unknown = await refused(["run", "what-if", "--set", "whatif.scenarios.bad.lp.lp9.gamma=1"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/whatif\.scenarios\.bad: Scenario path 'lp\.lp9\.gamma' names no LP supertype; use one of lp1, lp2/);
    const ecn = await refused(["run", "what-if", "--set", "whatif.scenarios.bad.ecn.spread=2"]);
    expect(ecn.code).toBe(2);
    expect(ecn.stderr).toMatch(/Scenario path 'ecn\.spread' names no ECN edit; use ecn\.spreadScale or ecn\.depthScale/);
    const outOfRange = await refused(["run", "what-if", "--set", "whatif.scenarios.bad.lp.lp2.gamma.mean=11"]);
    expect(outOfRange.code).toBe(2);
    expect(outOfRange.stderr).toMatch(/whatif\.scenarios\.bad: Scenario path 'lp\.lp2\.gamma\.mean' must be in \[0, 10\], got 11\./);
    expect(readdirSync(untouched)).toEqual([]);
  });

  it("re-equilibrates from the calibrated market and compares scenarios on common random numbers", async () => {
    const run = launcherRunner("pipelines/main.ts", store);
    const result = await run(["run", "what-if", ...small, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const ran = statuses(result.stdout);
    expect(Object.keys(ran)).toEqual(
      expect.arrayContaining(["train-calsheq", "reequilibrate-baseline", "reequilibrate-control", "evaluate-control", "reequilibrate-risk-averse-lp2", "evaluate-risk-averse-lp2", "from-scratch-risk-averse-lp2", "whatif-report"])
    );

    const shown = JSON.parse((await run(["show", "what-if", "whatif-report", ...small, "--json"])).stdout) as { nodes: Array<{ files: Record<string, string> }> };
    const files = shown.nodes[0]!.files;
    expectDescribed(files["comparisons.parquet"]!);
    const table = parquetToTable(readFileSync(files["comparisons.parquet"]!));
    const rows: Row[] = table.toArray().map((r) => r.toJSON() as Row);
    const find = (scenario: string, metric: string, entity: string) => rows.find((r) => r.scenario === scenario && r.metric === metric && r.entity === entity)!;

    // The control changes nothing: every difference's interval contains 0.
    const control = rows.filter((r) => r.scenario === "control");
    expect(control.length).toBeGreaterThan(50);
    for (const r of control) expect(r.ci_low <= 0 && r.ci_high >= 0, `${r.metric} of ${r.entity}`).toBe(true);

    // A more risk-averse supertype 2 holds less inventory and hedges more.
    const inventory = find("risk-averse-lp2", "meanAbsInventory", "supertype 2");
    expect(inventory.ci_high).toBeLessThan(0);
    const hedge = find("risk-averse-lp2", "hedgeFraction", "supertype 2");
    expect(hedge.ci_low).toBeGreaterThan(0);

    // A wider ECN spread makes the ECN dearer for the takers: more of their flow goes to the LPs, at a higher cost.
    expect(find("wide-ecn", "marketShare", "market").ci_low).toBeGreaterThan(0);
    expect(find("wide-ecn", "ltCost", "market").ci_low).toBeGreaterThan(0);

    // The warm start settles first: from fresh weights the same market takes longer (or hits the cap).
    const summary = JSON.parse(readFileSync(files["summary.json"]!, "utf8")) as { scenarios: Array<{ name: string; iterations: number; decision: string; fromScratchIterations: number | null }> };
    const riskier = summary.scenarios.find((s) => s.name === "risk-averse-lp2")!;
    expect(riskier.decision).toBe("converged");
    expect(riskier.iterations).toBeLessThan(riskier.fromScratchIterations!);
    const html = readFileSync(files["report.html"]!, "utf8");
    expect(html).toContain("Scenario risk-averse-lp2");
    // Beside the mean differences, each supertype's per-episode inventory and PnL in both markets.
    expect(html).toContain("risk-averse-lp2: meanAbsInventory per episode");
    expect(html).toContain("risk-averse-lp2: pnl per episode");

    // Changing one scenario re-runs that scenario's nodes and the report only; a new one adds its own.
    const changed = await run(["explain", "what-if", ...small, "--set", "whatif.scenarios.risk-averse-lp2.lp.lp2.gamma.mean=5", "--set", "whatif.scenarios.cut.lp.lp1.connectivity.lt1=0", "--json"]);
    expect(changed.code, changed.stderr).toBe(0);
    const plan = statuses(changed.stdout);
    for (const node of ["train-calsheq", "reequilibrate-baseline", "reequilibrate-control", "evaluate-control"]) expect(plan[node], node).toBe("hit");
    expect(plan["reequilibrate-risk-averse-lp2"]).toBe("will-run:PARAMS");
    expect(plan["reequilibrate-cut"]).toBe("will-run:MISSING");
    expect(plan["whatif-report"]).toMatch(/^will-run:/);
    expect(existsSync(join(store, "refs", "what-if"))).toBe(true);

    // The calibration is the calibration pipeline's own: calibrate-exp4 finds it cached, and
    // starting from experiment 1 plans exactly calibrate-exp1's training.
    const calibrate = await run(["explain", "calibrate-exp4", "--set", "calibration.iterations=40", "--json"]);
    expect(statuses(calibrate.stdout)["train-calsheq"]).toBe("hit");
    const keyOf = (stdout: string, node: string) => stdout.split("\n").filter((l) => l.startsWith('{"stage"')).map((l) => JSON.parse(l) as { node: string; key: string }).find((e) => e.node === node)?.key;
    const exp1 = await run(["explain", "calibrate-exp1", "--json"]);
    const fromExp1 = await run(["explain", "what-if", "--set", "whatif.from=calibrate-exp1", "--json"]);
    expect(fromExp1.code, fromExp1.stderr).toBe(0);
    expect(keyOf(fromExp1.stdout, "train-calsheq")).toBe(keyOf(exp1.stdout, "train-calsheq"));
    expect(keyOf(fromExp1.stdout, "train-calsheq")).not.toBe(keyOf(calibrate.stdout, "train-calsheq"));
  });
});
