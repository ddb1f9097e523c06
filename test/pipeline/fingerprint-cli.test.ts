/**
 * Precise cache invalidation through the real CLI (ARCHITECTURE sections 3 and 6): a comment-only
 * edit, a type-only edit and an edit to an unrelated stage's module leave a cached pipeline all
 * hits; a real change to a module a stage runs re-runs it, and `explain` / `run` name the first
 * changed module and the import path that reached it. Each test works on a private copy of the
 * sources under .pipeline-tmp/ (with its own package.json, the fingerprints' root): the fixture
 * pipeline (fast), and the project's calibrate-exp4 up to train-calsheq at a tiny scale.
 */
import { spawn } from "node:child_process";
import { appendFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repo, setFlags } from "../pipelines/cli.ts";

const sandboxes: string[] = [];
const tag = `fingerprint-${process.pid}-`;

const makeSandbox = (parts: readonly string[]): string => {
  const dir = join(repo, ".pipeline-tmp", `${tag}${sandboxes.length}-${Date.now()}`);
  for (const part of parts) cpSync(join(repo, part), join(dir, part), { recursive: true });
  writeFileSync(join(dir, "package.json"), "{}\n");
  sandboxes.push(dir);
  return dir;
};

afterAll(() => {
  for (const dir of sandboxes) rmSync(dir, { recursive: true, force: true });
  const cache = join(repo, "node_modules", ".cache", "otc-pipeline");
  if (existsSync(cache)) for (const f of readdirSync(cache)) if (f.includes(tag)) rmSync(join(cache, f), { force: true });
});

interface Event {
  readonly node: string;
  readonly status: string;
  readonly reason: string | null;
  readonly detail?: string;
  readonly changed?: { readonly file: string; readonly via: readonly string[] };
}

/** The CLI through the project's launcher, bundling the sandbox's sources from `entry`. */
const runCli = (dir: string, entry: string, args: string[]) =>
  new Promise<{ code: number | null; stdout: string; stderr: string; events: Event[] }>((done) => {
    const child = spawn(process.execPath, [join(repo, "scripts/pipeline.mjs"), ...args, "--store", join(dir, "store")], {
      cwd: dir,
      env: { ...process.env, CI: "1", PIPELINE_ENTRY: join(dir, entry), PIPELINE_SOURCE_ROOT: dir }
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => {
      const events = stdout
        .split("\n")
        .filter((l) => l.startsWith('{"stage"'))
        .map((l) => JSON.parse(l) as Event);
      done({ code, stdout, stderr, events });
    });
  });

const statusOf = (events: readonly Event[]) => Object.fromEntries(events.map((e) => [e.node, e.reason ? `${e.status}:${e.reason}` : e.status]));
const eventOf = (events: readonly Event[], node: string) => events.find((e) => e.node === node)!;

const edit = (dir: string, file: string, change: (text: string) => string) => {
  const path = join(dir, file);
  const before = readFileSync(path, "utf8");
  const after = change(before);
  if (after === before) throw new Error(`the edit of ${file} changed nothing`);
  writeFileSync(path, after);
};

const FIXTURES = "test/pipeline/fixtures";

describe("code fingerprints through the CLI", { timeout: 300_000 }, () => {
  it("fixture pipeline: comments, formatting and types are not changes; a real change is named with its import path", async () => {
    const dir = makeSandbox(["core/pipeline", "core/random", FIXTURES]);
    const cli = (args: string[]) => runCli(dir, `${FIXTURES}/main.ts`, [...args, "--json"]);
    const first = await cli(["run", "diamond"]);
    expect(first.code, first.stderr).toBe(0);
    expect(Object.values(statusOf(first.events))).toEqual(["ran:MISSING", "ran:MISSING", "ran:MISSING", "ran:MISSING", "ran:MISSING"]);

    // Comments, re-indentation and type annotations in modules every stage imports.
    edit(dir, `${FIXTURES}/lib.ts`, (t) => `${t.replace("(table: arrow.Table): number[] =>", "(\n  table: arrow.Table\n): Array<number> =>")}\n/** More documentation. */\n// and a note\n`);
    edit(dir, `${FIXTURES}/combine.ts`, (t) => t.replace("run: (inputs) =>", "// Sums each branch.\n  run: (inputs: { left: arrow.Table; right: arrow.Table }) =>").replace('import { Effect', 'import type * as arrow from "apache-arrow";\nimport { Effect'));
    edit(dir, `${FIXTURES}/accumulate.ts`, (t) => `${t}\n/* A block comment at the end. */\n`);
    for (const command of ["explain", "run"]) {
      const after = await cli([command, "diamond"]);
      expect(after.code, after.stderr).toBe(0);
      expect(statusOf(after.events), command).toEqual({ numbers: "hit", double: "hit", square: "hit", combine: "hit", accumulate: "hit" });
    }

    // A real change to the helper: each stage that runs it re-runs, naming it and the path to it.
    // ("val" + "ue" for "value" would not do: esbuild folds it, and it is no change.)
    edit(dir, `${FIXTURES}/lib.ts`, (t) => t.replace("!.toArray()", "!.toArray().slice()"));
    const plan = await cli(["explain", "diamond"]);
    // combine and accumulate wait for upstream re-runs, but their own code changed too, which is said first.
    expect(statusOf(plan.events)).toEqual({ numbers: "hit", double: "will-run:CODE", square: "will-run:CODE", combine: "will-run:CODE", accumulate: "will-run:CODE" });
    expect(eventOf(plan.events, "combine").detail).toBe(`${FIXTURES}/lib.ts via ${FIXTURES}/combine.ts -> ${FIXTURES}/lib.ts; an upstream node will run first`);
    expect(eventOf(plan.events, "double").changed).toEqual({ file: `${FIXTURES}/lib.ts`, via: [`${FIXTURES}/double.ts`, `${FIXTURES}/lib.ts`] });
    expect(eventOf(plan.events, "double").detail).toBe(`${FIXTURES}/lib.ts via ${FIXTURES}/double.ts -> ${FIXTURES}/lib.ts`);
    const text = await runCli(dir, `${FIXTURES}/main.ts`, ["explain", "diamond"]);
    expect(text.stdout).toMatch(new RegExp(`square +CODE +${FIXTURES}/lib\\.ts via ${FIXTURES}/square\\.ts -> ${FIXTURES}/lib\\.ts`));
    const ran = await cli(["run", "diamond"]);
    expect(statusOf(ran.events)).toEqual({ numbers: "hit", double: "ran:CODE", square: "ran:CODE", combine: "ran:CODE", accumulate: "ran:CODE" });
    // The loop reaches the helper through the stage whose schema it imports.
    expect(eventOf(ran.events, "accumulate").changed?.via).toEqual([`${FIXTURES}/accumulate.ts`, `${FIXTURES}/combine.ts`, `${FIXTURES}/lib.ts`]);

    // A record written before per-module hashes were kept still reads: the re-run just says CODE.
    const record = join(dir, "store", "refs", "diamond", "square.json");
    const { files: _files, scheme: _scheme, ...old } = JSON.parse(readFileSync(record, "utf8")) as Record<string, unknown>;
    writeFileSync(record, JSON.stringify(old));
    appendFileSync(join(dir, FIXTURES, "square.ts"), "\nexport const squareEdit = 1;\n");
    const legacy = eventOf((await cli(["explain", "diamond"])).events, "square");
    expect(legacy).toMatchObject({ status: "will-run", reason: "CODE" });
    expect(legacy.changed).toBeUndefined();
    expect(legacy.detail).toBeUndefined();
  });

  it("calibrate-exp4: other stages' code and comments in the environment leave train-calsheq cached; a change to the environment re-runs it", async () => {
    const dir = makeSandbox(["core", "stages", "schemas", "pipelines"]);
    const tiny = setFlags([
      "calibration.iterations=1",
      "calibration.episodes=2",
      "calibration.episodesPerShard=2",
      "calibration.horizon=5",
      "calibration.ppo.hidden=[4]",
      "calibration.ppo.sgdPasses=1",
      "calibration.calsheq.hidden=[4]",
      "calibration.calsheq.sgdPasses=1",
      "calibration.rollouts.workers=0",
      "ecn.data.rows=300"
    ]);
    const cli = (command: string) => runCli(dir, "pipelines/main.ts", [command, "calibrate-exp4", "--until", "train-calsheq", ...tiny, "--json"]);
    const first = await cli("run");
    expect(first.code, first.stderr).toBe(0);
    expect(statusOf(first.events)["train-calsheq"]).toBe("ran:MISSING");

    // Another pipeline's stage module and this pipeline's replay and report stages (code, not just
    // comments), and comments in the environment.
    for (const module of ["stages/shared.ts", "stages/episode-records.ts", "stages/calibration-report.ts"]) {
      appendFileSync(join(dir, module), "\nexport const anotherStagesEdit = 1;\n");
    }
    edit(dir, "core/otc/env.ts", (t) => `// A note on the environment.\n${t}\n/** Trailing documentation. */\n`);
    const cached = await cli("explain");
    expect(cached.code, cached.stderr).toBe(0);
    expect(Object.values(statusOf(cached.events)).every((s) => s === "hit"), JSON.stringify(statusOf(cached.events))).toBe(true);

    // A real change to the environment: the loop re-runs, and explain says which module and how it is reached.
    appendFileSync(join(dir, "core/otc/env.ts"), "\nexport const environmentEdit = 1;\n");
    const changed = await cli("explain");
    expect(statusOf(changed.events)).toMatchObject({ "load-l2": "hit", "fit-ecn-gmm": "hit", "train-calsheq": "will-run:CODE" });
    const calsheq = eventOf(changed.events, "train-calsheq");
    expect(calsheq.changed?.file).toBe("core/otc/env.ts");
    expect(calsheq.changed?.via[0]).toBe("stages/calibration.ts");
    expect(calsheq.changed?.via.at(-1)).toBe("core/otc/env.ts");
    expect(calsheq.detail).toMatch(/^core\/otc\/env\.ts via stages\/calibration\.ts -> .* -> core\/otc\/env\.ts; 1 iterations from the start$/);
  });
});
