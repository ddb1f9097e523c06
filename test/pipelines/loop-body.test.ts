/**
 * Training loops as bodies of stages, through the CLI in this process: `explain calibrate-exp4`
 * lists each loop's steps (build-supertypes, rollouts, ppo-update, then calibrator-update for
 * CALSHEQ and bo-propose for BO); `--keep rollouts` keeps every iteration's rollout batch as a
 * Parquet table DuckDB reads (one row per LP and step of every episode), keeping changes no
 * result (the loops' data versions equal a run without it); a step no loop runs is bad usage;
 * `bodyGraph` gives `dag` the body as nodes and edges.
 */
import { DuckDBInstance } from "@duckdb/node-api";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { renderDag } from "../../core/pipeline/dag.ts";
import { bodyGraph } from "../../core/pipeline/loop-body.ts";
import { keptDir } from "../../core/pipeline/runner.ts";
import { calibrationPipeline } from "../../pipelines/calibrate.ts";
import { setFlags, statuses } from "./cli.ts";
import { inProcessCli } from "./in-process-cli.ts";

const stores: string[] = [];
afterAll(() => stores.forEach((s) => rmSync(s, { recursive: true, force: true })));
const newStore = () => {
  const store = mkdtempSync(join(tmpdir(), "loop-body-"));
  stores.push(store);
  return store;
};

const cli = (store: string, args: string[]) => inProcessCli(store)(args);

const episodes = 2;
const horizon = 10;
const tiny = setFlags([
  "calibration.iterations=3",
  "calibration.checkpointEvery=2",
  `calibration.episodes=${episodes}`,
  `calibration.horizon=${horizon}`,
  "calibration.ppo.hidden=[8]",
  "calibration.ppo.sgdPasses=1",
  "calibration.calsheq.hidden=[8]",
  "calibration.bo.every=2",
  "calibration.rollouts.workers=0",
  "ecn.data.rows=600",
  "records.episodes=1"
]);

/** The lines `explain` prints under a loop node, up to the next node. */
const bodyLines = (text: string, node: string): string[] => {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => new RegExp(`^\\s+\\S+\\s+${node}\\b`).test(l));
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((l) => /^\s{2}\S/.test(l));
  return rest.slice(0, end < 0 ? undefined : end);
};

describe("loop bodies", { timeout: 300_000 }, () => {
  it("explain lists the steps one iteration of each loop runs", async () => {
    const store = newStore();
    const plan = await cli(store, ["explain", "calibrate-exp4"]);
    expect(plan.code, plan.stderr).toBe(0);
    const steps = (node: string) => bodyLines(plan.stdout, node).map((l) => l.trim().split(" ")[0]);
    // The deviation test of the stopping rule is a step too (it does nothing under a fixed count).
    expect(steps("train-calsheq")).toEqual(["each", "build-supertypes", "rollouts", "ppo-update", "episode-rewards", "calibrator-update", "exploitability-check"]);
    expect(steps("train-bo")).toEqual(["each", "build-supertypes", "rollouts", "ppo-update", "episode-rewards", "bo-propose", "exploitability-check"]);
    // What feeds each step is named: the state, a set-up value or an earlier step.
    expect(bodyLines(plan.stdout, "train-calsheq").join("\n")).toMatch(/rollouts <- env: setup, learners: setup, policies: state, episodeInputs: build-supertypes/);
    const json = await cli(store, ["explain", "calibrate-exp4", "--json"]);
    const event = json.stdout.split("\n").filter((l) => l.includes('"node":"train-calsheq"')).map((l) => JSON.parse(l) as { body?: string[] })[0]!;
    expect(event.body?.map((l) => l.split(" ")[0])).toEqual(["build-supertypes", "rollouts", "ppo-update", "episode-rewards", "calibrator-update", "exploitability-check"]);
    // Nodes without a body print none.
    expect(bodyLines(plan.stdout, "fit-ecn-gmm")).toEqual([]);
  });

  it("keeps every iteration's rollouts as Parquet that DuckDB reads, without changing a result", async () => {
    const kept = newStore();
    const run = await cli(kept, ["run", "calibrate-exp4", ...tiny, "--keep", "rollouts", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const plain = newStore();
    const again = await cli(plain, ["run", "calibrate-exp4", ...tiny, "--json"]);
    expect(again.code, again.stderr).toBe(0);
    // Same cache keys and the same checkpoints (data versions) with and without keeping. (Only the
    // loops: a report's SVG and the episode records differ between two runs in one process, with or
    // without keeping, as before loops had bodies; in separate processes they are identical.)
    const versions = (store: string, out: string) =>
      out
        .split("\n")
        .filter((l) => l.startsWith('{"stage"'))
        .map((l) => JSON.parse(l) as { node: string; key: string })
        .filter((e) => e.node.startsWith("train-"))
        .map((e) => `${e.node} ${e.key} ${(JSON.parse(readFileSync(join(store, "actions", `${e.key}.json`), "utf8")) as { dataVersion: string }).dataVersion}`)
        .sort();
    expect(versions(kept, run.stdout)).toEqual(versions(plain, again.stdout));
    expect(statuses(run.stdout)["train-calsheq"]).toBe("ran:MISSING");

    for (const node of ["train-calsheq", "train-bo"]) {
      const dir = keptDir(kept, "calibrate-exp4", node, "rollouts");
      expect(readdirSync(dir).sort()).toEqual(["000001.rollouts.parquet", "000002.rollouts.parquet", "000003.rollouts.parquet"]);
    }
    expect(existsSync(join(plain, "kept"))).toBe(false);

    const file = join(keptDir(kept, "calibrate-exp4", "train-calsheq", "rollouts"), "000002.rollouts.parquet").replace(/'/g, "''");
    const instance = await DuckDBInstance.create(":memory:");
    const connection = await instance.connect();
    try {
      const [summary] = (
        await connection.runAndReadAll(
          `select count(*) as n, count(distinct agent) as agents, min(t) as t0, max(t) as t1, any_value(class) as class, sum(done) as dones, count(*) filter (where reward is null or obs_0 is null) as missing from read_parquet('${file}')`
        )
      ).getRowObjectsJS() as Array<{ n: bigint; agents: bigint; t0: number; t1: number; class: string; dones: number; missing: bigint }>;
      // Experiment 4 has 10 LPs per episode (the one learning class); every LP acts every step.
      expect(Number(summary!.n)).toBe(episodes * 10 * horizon);
      expect(Number(summary!.agents)).toBe(episodes * 10);
      expect([summary!.t0, summary!.t1]).toEqual([0, horizon - 1]);
      expect(summary!.class).toBe("lp");
      expect(summary!.dones).toBe(episodes * 10);
      expect(Number(summary!.missing)).toBe(0);
      const meta = (await connection.runAndReadAll(`select decode(key) as k from parquet_kv_metadata('${file}')`)).getRowObjectsJS() as Array<{ k: string }>;
      expect(meta.map((m) => m.k)).toContain("otc.columns");
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });

  it("refuses to keep a step no loop runs, naming the steps there are", async () => {
    const bad = await cli(newStore(), ["run", "calibrate-exp4", ...tiny, "--keep", "rolouts"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--keep rolouts: no loop of pipeline "calibrate-exp4" runs such a step; its loops' steps are build-supertypes, rollouts, ppo-update/);
  });

  it("gives dag the body of each loop as steps and edges", () => {
    const pipeline = calibrationPipeline(4);
    const dot = renderDag(pipeline, "dot", (node) => (node.stage._kind === "loop" && node.stage.body !== undefined ? bodyGraph(node.stage.body) : undefined));
    expect(dot).toContain('"train-calsheq/build-supertypes" -> "train-calsheq/rollouts" [label="episodeInputs"]');
    expect(dot).toContain('"train-bo/episode-rewards" -> "train-bo/bo-propose" [label="rewards"]');
    expect(dot).toContain('"train-calsheq/state" -> "train-calsheq/calibrator-update" [label="calsheq"]');
  });
});
