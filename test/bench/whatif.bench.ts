/**
 * Benchmark: the `what-if` pipeline on its quick preset (experiment 4's calibrated market; the
 * default scenarios `control` and `risk-averse-lp2`, the latter also from fresh weights). Runs the
 * pipeline through the library API into `WHATIF_BENCH_STORE` (default: a fresh directory, which
 * first trains the calibration, about 7-10 minutes here; point it at a store where `calibrate-exp4`
 * ran to time the what-if part alone) and prints one JSON object: each node's wall seconds, one
 * scenario's wall time (its re-equilibration and evaluation), and the iterations to re-equilibrate
 * from the calibrated policy against from fresh weights, with the stopping decisions.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { StageEvent } from "../../core/pipeline/runner.ts";
import { runPipelineByName } from "../../pipelines/api.ts";

const store = process.env["WHATIF_BENCH_STORE"] ?? mkdtempSync(join(tmpdir(), "whatif-bench-"));
const events: StageEvent[] = [];
const started = performance.now();
const outcome = await runPipelineByName("what-if", { store, onEvent: (e) => events.push(e) });
const wallSeconds = (performance.now() - started) / 1000;
const seconds = Object.fromEntries(events.filter((e) => e.status === "ran" || e.status === "hit").map((e) => [e.node, e.status === "hit" ? "hit" : Number((e.ms / 1000).toFixed(1))]));
const report = outcome.nodes["whatif-report"]!;
const summary = JSON.parse(readFileSync(join(report.directory, "summary.json"), "utf8")) as {
  scenarios: Array<{ name: string; iterations: number; decision: string; fromScratchIterations: number | null; fromScratchDecision: string | null; differencesExcludingZero: number; differences: number }>;
};
const riskier = summary.scenarios.find((s) => s.name === "risk-averse-lp2")!;
const scenarioSeconds = ["reequilibrate-risk-averse-lp2", "evaluate-risk-averse-lp2"].map((n) => seconds[n]).filter((s): s is number => typeof s === "number");
console.log(
  JSON.stringify(
    {
      bench: "whatif",
      store,
      loadAverage: loadavg()[0],
      wallSeconds: Number(wallSeconds.toFixed(1)),
      nodeSeconds: seconds,
      oneScenarioSeconds: scenarioSeconds.length === 2 ? Number((scenarioSeconds[0]! + scenarioSeconds[1]!).toFixed(1)) : "cached",
      reequilibration: {
        warmStart: { iterations: riskier.iterations, decision: riskier.decision },
        fromScratch: { iterations: riskier.fromScratchIterations, decision: riskier.fromScratchDecision },
        ratio: riskier.fromScratchIterations === null ? null : Number((riskier.iterations / riskier.fromScratchIterations).toFixed(3))
      },
      differencesExcludingZero: Object.fromEntries(summary.scenarios.map((s) => [s.name, `${s.differencesExcludingZero} of ${s.differences}`]))
    },
    null,
    2
  )
);
