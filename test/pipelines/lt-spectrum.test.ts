/**
 * The lt-spectrum pipeline (figure 2): the fixed-path ECN driver keeps the mid on its path
 * whatever the LTs do (the book is rebuilt around it every step), so an LT that always buys has
 * the hand-computable PnL sum_t q_t (P_{t+1} - P_t) minus half a spread per trade; and the
 * pipeline runs end to end through the CLI at a tiny scale, is all cache hits when re-run, resumes
 * its loop when the budget rises, and `show --json` carries the per-omega fractions and PnL.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cliRunner, setFlags, statuses } from "./cli.ts";
import { constant } from "../../core/otc/supertypes.ts";
import { Random } from "../../core/random/philox.ts";
import { ltSpectrumEnv, type LtSpectrumSetup } from "../../core/analysis/lt-spectrum.ts";
import { expectDescribed } from "./described.ts";

const store = mkdtempSync(join(tmpdir(), "lt-spectrum-test-"));
afterAll(() => rmSync(store, { recursive: true, force: true }));

describe("fixed-path ECN", () => {
  it("keeps the mid on the path and charges half a spread per ECN trade", () => {
    const setup: LtSpectrumSetup = { horizon: 30, episodes: 2, ltsPerEpisode: 3, qA: 0.25, qB: 0.75, eta: 1e-3, path: { kind: "walk", stepTicks: 4, seed: 3 }, spreadTicks: 2 };
    const { env, path } = ltSpectrumEnv(setup, constant(0.5));
    env.reset(Random.fromSeed(1));
    const lt = new Float32Array(setup.episodes * setup.ltsPerEpisode); // 0 = buy for everybody
    const mids: number[] = [env.midOf(1)];
    for (let t = 0; t < setup.horizon; t++) {
      env.step([new Float32Array(3 * setup.episodes), lt]);
      mids.push(env.midOf(1));
    }
    mids.forEach((m, t) => expect(m).toBe(Math.floor(path[t]!) + setup.spreadTicks / 2));
    let inventoryPnl = 0;
    for (let t = 0; t < setup.horizon; t++) inventoryPnl += (t + 1) * (mids[t + 1]! - mids[t]!);
    const expected = inventoryPnl - (setup.spreadTicks / 2) * setup.horizon;
    for (const pnl of env.episodeOutcomes().ltPnl) expect(pnl).toBeCloseTo(expected, 9);
  });
});

const tinySets = [
  "training.iterations=2",
  "training.checkpointEvery=1",
  "training.episodes=2",
  "training.horizon=10",
  "training.ltsPerEpisode=2",
  "training.ppo.hidden=[8]",
  "training.ppo.sgdPasses=1",
  "report.evaluationEpisodes=2"
];



const run = cliRunner("test/pipelines/lt-spectrum-main.ts", store);
const sets = (extra: string[] = []) => setFlags([...tinySets, ...extra]);

describe("lt-spectrum pipeline", { timeout: 300_000 }, () => {
  it("runs, caches, resumes and reports the fractions and PnL per omega", async () => {
    const first = await run(["run", "lt-spectrum", ...sets(), "--json"]);
    expect(first.code, first.stderr).toBe(0);
    expect(statuses(first.stdout)).toEqual({ "train-lt-spectrum": "ran:MISSING", "lt-spectrum-report": "ran:MISSING" });

    const again = await run(["run", "lt-spectrum", ...sets(), "--json"]);
    expect(statuses(again.stdout)).toEqual({ "train-lt-spectrum": "hit", "lt-spectrum-report": "hit" });

    const plan = await run(["explain", "lt-spectrum", ...sets(["training.iterations=3"]), "--json"]);
    const planned = plan.stdout.split("\n").filter((l) => l.includes('"train-lt-spectrum"')).map((l) => JSON.parse(l) as { detail?: string });
    expect(planned[0]?.detail).toBe("changed training.iterations (2 -> 3); resumes from checkpoint 2 of 3");
    const more = await run(["run", "lt-spectrum", ...sets(["training.iterations=3"]), "--json"]);
    // The report reads the training params (to rebuild the env), so it re-runs for PARAMS as well as INPUT.
    expect(statuses(more.stdout)).toEqual({ "train-lt-spectrum": "ran:PARAMS", "lt-spectrum-report": "ran:PARAMS" });

    const shown = await run(["show", "lt-spectrum", "lt-spectrum-report", "--json"]);
    expect(shown.code, shown.stderr).toBe(0);
    const node = (JSON.parse(shown.stdout) as { nodes: Array<{ summary: { iterations: number; omegas: Array<Record<string, number>> }; files: Record<string, string> }> }).nodes[0]!;
    expect(node.summary.iterations).toBe(3);
    expect(node.summary.omegas.map((o) => o["omega"])).toEqual([0, 0.25, 0.75, 1]);
    for (const o of node.summary.omegas) {
      expect(o["sellFraction"]! + o["buyFraction"]!).toBeLessThanOrEqual(1 + 1e-12);
      expect(o["sellFraction"]).toBeGreaterThanOrEqual(0);
      expect(Number.isFinite(o["meanPnl"])).toBe(true);
    }
    expect(Object.keys(node.files)).toEqual(expect.arrayContaining(["report.html", "omegas.parquet", "summary.json"]));
    expectDescribed(node.files["omegas.parquet"]!);
  });
});
