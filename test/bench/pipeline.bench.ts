/**
 * Benchmark: a no-op re-run of a fully cached 10-stage pipeline. Reports the wall time
 * of `pnpm pipeline run` (Node start-up, pnpm and bundle load included), of the launcher without
 * pnpm, and the framework's own share measured inside the process (plan, fingerprints, keys,
 * manifest reads, output).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const store = mkdtempSync(join(tmpdir(), "bench-pipeline-"));
const env = { ...process.env, PIPELINE_ENTRY: "test/bench/fixtures/chain.ts", REPORT_FRAMEWORK_MS: "1", CI: "1" };
const launch = (command: string, args: string[]) => {
  const started = performance.now();
  const result = spawnSync(command, args, { cwd: root, env, encoding: "utf8" });
  const wallMs = performance.now() - started;
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr}`);
  const framework = /framework-ms ([\d.]+)/.exec(result.stderr);
  return { wallMs, frameworkMs: framework ? Number(framework[1]) : NaN, stdout: result.stdout };
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const first = launch(process.execPath, ["scripts/pipeline.mjs", "run", "chain", "--store", store, "--json"]);
const ranCount = first.stdout.split("\n").filter((l) => l.includes('"status":"ran"')).length;
const node: number[] = [];
const framework: number[] = [];
const viaPnpm: number[] = [];
for (let i = 0; i < 5; i++) {
  const r = launch(process.execPath, ["scripts/pipeline.mjs", "run", "chain", "--store", store, "--json"]);
  if (r.stdout.split("\n").filter((l) => l.includes('"status":"hit"')).length !== 10) throw new Error("expected 10 hits");
  node.push(r.wallMs);
  framework.push(r.frameworkMs);
  viaPnpm.push(launch("pnpm", ["-s", "pipeline", "run", "chain", "--store", store, "--json"]).wallMs);
}
rmSync(store, { recursive: true, force: true });
console.log(
  JSON.stringify({
    benchmark: "pipeline-noop-rerun",
    stages: 10,
    firstRunStagesRan: ranCount,
    firstRunWallMs: Math.round(first.wallMs),
    noopRerunWallMsViaPnpm: Math.round(median(viaPnpm)),
    noopRerunWallMsNodeLauncher: Math.round(median(node)),
    frameworkShareMs: Number(median(framework).toFixed(1)),
    goals: { wallMs: 1500, frameworkMs: 100 }
  })
);
