/**
 * The `reproduce` pipeline through the shipped CLI at its tiny preset (numbers that mean nothing,
 * every stage run): it includes the pipelines that measure the paper's claims, shares their
 * cached results (a calibration run on its own first is read, not re-run), and writes one table
 * of claims (table 2, figure 2, table 5 and figures 7 and 29-32 for each experiment, the section
 * 5.2 findings) with a valid verdict each, as HTML, JSON and Markdown that says which run wrote it.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { launcherRunner, statuses } from "./cli.ts";

const store = mkdtempSync(join(tmpdir(), "reproduce-test-"));
afterAll(() => rmSync(store, { recursive: true, force: true }));

const run = launcherRunner("pipelines/main.ts", store);

describe("reproduce pipeline", { timeout: 600_000 }, () => {
  it("reads what the included pipelines cached and tabulates every claim with a verdict", async () => {
    const alone = await run(["run", "calibrate-exp4", "--preset", "tiny", "--json"]);
    expect(alone.code, alone.stderr).toBe(0);

    const result = await run(["run", "reproduce", "--preset", "tiny", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const status = statuses(result.stdout);
    // Experiment 4's calibration and its equilibrium probe are the ones calibrate-exp4 computed: same keys, read from the cache.
    for (const node of ["exp4.load-l2", "exp4.fit-ecn-gmm", "exp4.train-calsheq", "exp4.train-bo", "exp4.calibration-report", "exp4.equilibrium-probe", "exp4.episode-records"]) expect(status[node], node).toBe("hit");
    expect(status["exp1.train-calsheq"]).toBe("ran:MISSING");
    expect(status["reproduction-report"]).toBe("ran:MISSING");

    const shown = JSON.parse((await run(["show", "reproduce", "reproduction-report", "--preset", "tiny", "--json"])).stdout) as {
      nodes: Array<{ summary: { claims: Array<{ source: string; paper: string; ours: string; verdict: string; why?: string }>; counts: Record<string, number> }; files: Record<string, string> }>;
    };
    const { summary, files } = shown.nodes[0]!;
    const sources = new Set(summary.claims.map((c) => c.source));
    for (const source of ["table 2", "figure 2", "figure 3", "table 5, experiment 1 (figure 8)", "table 5, experiment 4 (figure 28)", "figure 7, experiment 4", "figure 32, experiment 4"]) expect(sources, source).toContain(source);
    // Proposition 2.3 holds for any i.i.d. variation model, the fitted mixture included: its recursion meets the closed forms.
    expect(summary.claims.find((c) => c.source.startsWith("proposition 2.3"))?.verdict).toBe("reproduced");
    // A calibration's verdict comes with what the calibrator still pays for each target.
    // ... and where the ECN's share of the LT flow comes from in the calibrated market.
    expect(summary.claims.find((c) => c.source === "table 5, experiment 4 (figure 28)")?.why).toMatch(/share term .*ECN share of the LT flow.*the ECN's share in the calibrated market \(4 episodes/);
    expect(summary.claims.filter((c) => c.source.startsWith("section 5.2")).length).toBe(21);
    expect(summary.claims.filter((c) => c.source.startsWith("figure 6")).length).toBe(3);
    // Each calibration's policy and section 5.2's are probed for the first LP's best deviation, with and without the policy's exploration noise.
    const equilibrium = summary.claims.filter((c) => c.source.startsWith("section 5 (shared equilibrium"));
    expect(equilibrium.map((c) => c.source.replace(/.*\), /, ""))).toEqual(["experiment 1", "experiment 2", "experiment 3", "experiment 4", "section 5.2"]);
    for (const c of equilibrium) {
      expect(c.why).toMatch(/log-stDev for this LP: eps_spread -?\d/);
      expect(c.ours).toMatch(/played with the policy's own exploration noise .* the policy's own mean action -?\d/);
    }
    for (const c of summary.claims) expect(["reproduced", "not reproduced", "opposite", "inconclusive", "not run"]).toContain(c.verdict);
    expect(Object.values(summary.counts).reduce((a, b) => a + b, 0)).toBe(summary.claims.length);

    const markdown = readFileSync(files["reproduction.md"]!, "utf8");
    expect(markdown).toMatch(/^> Written by `pnpm pipeline run reproduce --preset tiny` \(node reproduction-report, seed 1, run /);
    expect(markdown.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| claim") && !l.startsWith("| ---")).length).toBe(summary.claims.length);
    expect(readFileSync(files["report.html"]!, "utf8")).toContain("Reproduction of the paper's claims");
  });
});
