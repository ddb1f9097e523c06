/**
 * Runs as experiments, through the CLI on the fixture pipelines: every run is logged with what was
 * asked (preset, overrides), the resolved params, the commit and the outcome; two runs with
 * different params are both listed (newest first), diffed (the changed param and the summary
 * figures side by side) and compared in one HTML page with the loop's curves overlaid; a usage
 * error logs nothing; an unknown run reference is bad usage; `gc --keep-runs 1` drops the older
 * run and the entries only it used, while the newest run's results stay cache hits.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { launcherRunner } from "./cli.ts";

const store = mkdtempSync(join(tmpdir(), "otc-runs-"));
afterAll(() => rmSync(store, { recursive: true, force: true }));
const cli = launcherRunner("test/pipeline/fixtures/main.ts", store);

interface LoggedRun {
  id: string;
  pipeline: string;
  preset: string | null;
  sets: [string, unknown][];
  params: { walk: { stepSize: number } };
  seed: number;
  commit: string | null;
  outcome: string;
  nodes: { node: string; status: string; key: string; code?: string }[];
}

describe("the run log", { timeout: 300_000 }, () => {
  it("lists, diffs and compares two runs with different params", async () => {
    expect((await cli(["run", "diamond", "--preset", "quick"])).code).toBe(0);
    expect((await cli(["run", "diamond", "--preset", "quick", "--set", "walk.stepSize=2"])).code).toBe(0);
    expect((await cli(["run", "diamond", "--set", "walk.stepSize=oops"])).code).toBe(2);

    const listed = (await cli(["runs", "diamond", "--json"])).stdout.trim().split("\n").map((l) => JSON.parse(l) as LoggedRun);
    expect(listed).toHaveLength(2);
    const [newest, oldest] = listed as [LoggedRun, LoggedRun];
    expect([newest.params.walk.stepSize, oldest.params.walk.stepSize]).toEqual([2, 1]);
    expect(newest.sets).toEqual([["walk.stepSize", 2]]);
    expect([newest.preset, newest.outcome, newest.pipeline]).toEqual(["quick", "succeeded", "diamond"]);
    expect(newest.nodes.find((n) => n.node === "accumulate")).toMatchObject({ status: "ran" });
    expect(newest.nodes.find((n) => n.node === "numbers")).toMatchObject({ status: "hit" });
    expect(newest.nodes.every((n) => n.key.length === 64 && (n.code?.length ?? 0) === 64)).toBe(true);
    expect(newest.commit === null || /^[0-9a-f]{40}$/.test(newest.commit)).toBe(true);
    const table = (await cli(["runs"])).stdout;
    expect(table.indexOf(newest.id)).toBeLessThan(table.indexOf(oldest.id));

    const diff = JSON.parse((await cli(["diff", "@2", "@1", "--json"])).stdout) as { runs: string[]; params: { path: string; a: string; b: string }[]; figures: { figure: string; a: number | null; b: number | null }[] };
    expect(diff.runs).toEqual([oldest.id, newest.id]);
    expect(diff.params).toEqual([{ path: "walk.stepSize", a: "1", b: "2" }]);
    const text = (await cli(["diff", oldest.id, newest.id.slice(0, 18)])).stdout;
    expect(text).toMatch(/walk\.stepSize\s+1\s+2/);

    const out = join(store, "compare.html");
    const compared = await cli(["compare", "@2", "@1", "--out", out]);
    expect(compared.code).toBe(0);
    const html = readFileSync(out, "utf8");
    expect(html).toContain("<h2>accumulate: curves</h2>");
    expect(html).toContain(oldest.id);
    expect(html.match(/<svg/g)?.length).toBeGreaterThanOrEqual(1);
    expect(html).toMatch(/<td>walk\.stepSize<\/td><td>1<\/td><td>2<\/td>/);
  });

  it("refuses unknown runs and wrong arity with exit 2", async () => {
    const missing = await cli(["diff", "@1", "@9"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/There is no run @9/);
    expect((await cli(["diff", "@1"])).code).toBe(2);
    expect((await cli(["compare", "nonexistent"])).stderr).toMatch(/No run has the id nonexistent/);
    expect(existsSync(join(store, "runs"))).toBe(true);
  });

  it("keeps the newest runs under gc --keep-runs, forgetting what only older runs used", async () => {
    const retained = mkdtempSync(join(tmpdir(), "otc-runs-gc-"));
    try {
      const gcCli = launcherRunner("test/pipeline/fixtures/main.ts", retained);
      expect((await gcCli(["run", "diamond", "--preset", "quick"])).code).toBe(0);
      expect((await gcCli(["run", "diamond", "--preset", "quick", "--set", "walk.stepSize=2"])).code).toBe(0);
      const runs = () => gcCli(["runs", "diamond", "--json"]).then((r) => r.stdout.trim().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as LoggedRun));
      const [newest, oldest] = (await runs()) as [LoggedRun, LoggedRun];
      const onlyOld = oldest.nodes.filter((n) => !newest.nodes.some((m) => m.key === n.key)).map((n) => n.key);
      expect(onlyOld.length).toBeGreaterThan(0);
      for (const key of onlyOld) expect(existsSync(join(retained, "actions", `${key}.json`))).toBe(true);

      const gc = await gcCli(["gc", "--keep-runs", "1", "--grace", "0"]);
      expect(gc.code, gc.stderr).toBe(0);
      expect(gc.stdout).toMatch(/dropped 1 runs beyond the newest 1 per pipeline/);
      expect((await runs()).map((r) => r.id)).toEqual([newest.id]);
      for (const key of onlyOld) expect(existsSync(join(retained, "actions", `${key}.json`))).toBe(false);
      const again = await gcCli(["run", "diamond", "--preset", "quick", "--set", "walk.stepSize=2", "--json"]);
      expect(again.stdout.split("\n").filter((l) => l.startsWith('{"stage"')).every((l) => (JSON.parse(l) as { status: string }).status === "hit")).toBe(true);
      expect((await gcCli(["gc", "--keep-runs", "-1"])).code).toBe(2);
    } finally {
      rmSync(retained, { recursive: true, force: true });
    }
  });
});
