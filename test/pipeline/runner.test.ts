/**
 * End-to-end tests of the pipeline runner through the real CLI in child processes: the
 * invalidation matrix, loop checkpoints and resume after SIGKILL, corruption recovery, two
 * processes sharing a store, and bad input. Each test works on a private copy of the framework
 * and the fixture pipeline (test/pipeline/fixtures) so it can edit stage sources.
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const sandboxes: string[] = [];

const makeSandbox = (): string => {
  const dir = join(repo, ".pipeline-tmp", `runner-${process.pid}-${sandboxes.length}-${Date.now()}`);
  for (const part of ["core/pipeline", "core/random", "test/pipeline/fixtures"]) {
    cpSync(join(repo, part), join(dir, part), { recursive: true });
  }
  sandboxes.push(dir);
  return dir;
};

afterAll(() => {
  for (const dir of sandboxes) rmSync(dir, { recursive: true, force: true });
  // The launcher's bundles of the sandboxes (named after their entry paths).
  const cache = join(repo, "node_modules", ".cache", "otc-pipeline");
  if (existsSync(cache)) for (const f of readdirSync(cache)) if (f.includes(`runner-${process.pid}-`)) rmSync(join(cache, f), { force: true });
});

interface Event {
  stage: string;
  node: string;
  key: string;
  status: string;
  reason: string | null;
  ms: number;
  detail?: string;
}

// The CLI runs through the project's launcher (scripts/pipeline.mjs), which bundles the sandbox's
// copy of the sources and rebuilds the bundle whenever one of them is edited.
const cliArgs = (_dir: string, args: string[]) => [join(repo, "scripts/pipeline.mjs"), ...args];
const cliEnv = (dir: string) => ({
  ...process.env,
  CI: "1",
  PIPELINE_ENTRY: join(dir, "test/pipeline/fixtures/main.ts"),
  PIPELINE_SOURCE_ROOT: dir
});

// Asynchronous on purpose: a synchronous spawn would block the test worker's event loop for the
// whole child run, and vitest's worker RPC times out under load.
const runCli = async (dir: string, args: string[]) => {
  const result = await new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
    const child = spawn(process.execPath, cliArgs(dir, args), { cwd: dir, env: cliEnv(dir) });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (status) => done({ status, stdout, stderr }));
  });
  const events: Event[] = result.stdout
    .split("\n")
    .filter((l) => l.startsWith('{"stage"'))
    .map((l) => JSON.parse(l) as Event);
  return { code: result.status, events, stdout: result.stdout, stderr: result.stderr };
};

const statusOf = (events: Event[]) => Object.fromEntries(events.map((e) => [e.node, e.reason ? `${e.status}:${e.reason}` : e.status]));

const edit = (dir: string, file: string, from: string, to: string) => {
  const path = join(dir, "test/pipeline/fixtures", file);
  const text = readFileSync(path, "utf8");
  if (from !== "" && !text.includes(from)) throw new Error(`fixture ${file} does not contain ${from}`);
  writeFileSync(path, from === "" ? text + to : text.replace(from, to));
};

describe("pipeline runner", { timeout: 300_000 }, () => {
  it("re-runs exactly what changed and says why (invalidation matrix)", async () => {
    const dir = makeSandbox();
    const store = ["--store", join(dir, "store"), "--json"];
    const first = await runCli(dir, ["run", "diamond", ...store]);
    expect(first.code, first.stderr).toBe(0);
    expect(statusOf(first.events)).toEqual({
      numbers: "ran:MISSING",
      double: "ran:MISSING",
      square: "ran:MISSING",
      combine: "ran:MISSING",
      accumulate: "ran:MISSING"
    });
    expect(first.events.every((e) => /^[0-9a-f]{64}$/.test(e.key))).toBe(true);

    const second = await runCli(dir, ["run", "diamond", ...store]);
    expect(statusOf(second.events)).toEqual({ numbers: "hit", double: "hit", square: "hit", combine: "hit", accumulate: "hit" });

    // A param change re-runs the stage and its descendants only; explain says so first.
    const explained = await runCli(dir, ["explain", "diamond", "--set", "left.factor=3", ...store]);
    expect(statusOf(explained.events)).toEqual({
      numbers: "hit",
      double: "will-run:PARAMS",
      square: "hit",
      combine: "will-run:INPUT",
      accumulate: "will-run:INPUT"
    });
    const changed = await runCli(dir, ["run", "diamond", "--set", "left.factor=3", ...store]);
    expect(statusOf(changed.events)).toEqual({
      numbers: "hit",
      double: "ran:PARAMS",
      square: "hit",
      combine: "ran:INPUT",
      accumulate: "ran:INPUT"
    });

    // Number formatting does not change the key: 3.0 and 3e0 are the params just run.
    const same = await runCli(dir, ["run", "diamond", "--set", "left.factor=3e0", ...store]);
    expect(statusOf(same.events).double).toBe("hit");
    // An execution param (how a stage runs, not what it makes) is not part of the key.
    const threads = await runCli(dir, ["run", "diamond", "--set", "left.factor=3", "--set", "left.threads=4", ...store]);
    expect(statusOf(threads.events).double).toBe("hit");

    // Editing a stage's source re-runs it and, since its output changes, its descendants.
    edit(dir, "double.ts", "x * params.factor", "x * params.factor + 1");
    expect(statusOf((await runCli(dir, ["explain", "diamond", ...store])).events).double).toBe("will-run:CODE");
    const edited = await runCli(dir, ["run", "diamond", ...store]);
    expect(statusOf(edited.events)).toEqual({
      numbers: "hit",
      double: "ran:CODE",
      square: "hit",
      combine: "ran:INPUT",
      accumulate: "ran:INPUT"
    });

    // A module no stage imports changes nothing.
    edit(dir, "unused.ts", "", "\nexport const alsoUnused = 2;\n");
    expect(Object.values(statusOf((await runCli(dir, ["run", "diamond", ...store])).events))).toEqual(["hit", "hit", "hit", "hit", "hit"]);

    // A shared helper module is part of the fingerprint of every stage importing it.
    edit(dir, "lib.ts", "", "\nexport const libVersion = 2;\n");
    const helper = await runCli(dir, ["run", "diamond", ...store]);
    expect(statusOf(helper.events)).toMatchObject({ numbers: "hit", double: "ran:CODE", square: "ran:CODE" });
    // combine imports it too, and accumulate imports combine: both are CODE re-runs as well.
    expect(statusOf(helper.events)).toMatchObject({ combine: "ran:CODE", accumulate: "ran:CODE" });

    // An upstream re-run that reproduces the same bytes leaves downstream hits.
    const cap = await runCli(dir, ["run", "diamond", "--set", "right.cap=1e10", ...store]);
    expect(statusOf(cap.events)).toEqual({ numbers: "hit", double: "hit", square: "ran:PARAMS", combine: "hit", accumulate: "hit" });

    // --until runs only what the node needs.
    const until = await runCli(dir, ["run", "diamond", "--until", "square", "--set", "source.n=50", ...store]);
    expect(until.events.map((e) => e.node)).toEqual(["numbers", "square"]);
  });

  it("re-uses loop checkpoints when the iteration count grows", async () => {
    const dir = makeSandbox();
    const store = ["--store", join(dir, "store"), "--json"];
    expect((await runCli(dir, ["run", "diamond", "--set", "walk.iterations=6", ...store])).code).toBe(0);
    const plan = await runCli(dir, ["explain", "diamond", "--set", "walk.iterations=10", ...store]);
    expect(plan.events.find((e) => e.node === "accumulate")).toMatchObject({ status: "will-run", reason: "PARAMS", detail: "changed walk.iterations (6 -> 10); resumes from checkpoint 6 of 10" });
    const grown = await runCli(dir, ["run", "diamond", "--set", "walk.iterations=10", ...store]);
    expect(statusOf(grown.events).accumulate).toBe("ran:PARAMS");

    // The resumed result is bit-identical to a run of 10 iterations from scratch in a new store.
    const fresh = await runCli(dir, ["run", "diamond", "--set", "walk.iterations=10", "--store", join(dir, "fresh"), "--json"]);
    const show = async (storeDir: string) =>
      JSON.parse((await runCli(dir, ["show", "diamond", "accumulate", "--json", "--store", storeDir])).stdout) as { nodes: Array<{ dataVersion: string; summary: { path: number[] } }> };
    expect(fresh.code).toBe(0);
    const resumed = (await show(join(dir, "store"))).nodes[0]!;
    const scratch = (await show(join(dir, "fresh"))).nodes[0]!;
    expect(resumed.summary.path).toHaveLength(10);
    expect(resumed.dataVersion).toBe(scratch.dataVersion);
    // Changing the checkpoint interval does not change results either.
    const other = await runCli(dir, ["run", "diamond", "--set", "walk.iterations=10", "--set", "walk.checkpointEvery=3", "--store", join(dir, "k3"), "--json"]);
    expect(other.code).toBe(0);
    expect((await show(join(dir, "k3"))).nodes[0]!.dataVersion).toBe(scratch.dataVersion);
  });

  it("resumes a loop killed with SIGKILL and ends bit-identical to an uninterrupted run", async () => {
    const dir = makeSandbox();
    const storeDir = join(dir, "store");
    const args = ["run", "diamond", "--set", "walk.iterations=12", "--set", "walk.sleepMs=150", "--store", storeDir, "--json"];
    const child = spawn(process.execPath, cliArgs(dir, args), { cwd: dir, stdio: "ignore", env: cliEnv(dir) });
    const loopsDir = join(storeDir, "loops");
    const deadline = Date.now() + 60_000;
    let checkpoints: number[] = [];
    while (Date.now() < deadline) {
      if (existsSync(loopsDir)) {
        const files = readdirSync(loopsDir).filter((f) => f.endsWith(".json"));
        if (files.length > 0) {
          try {
            checkpoints = (JSON.parse(readFileSync(join(loopsDir, files[0]!), "utf8")) as { checkpoints: number[] }).checkpoints;
          } catch {
            checkpoints = [];
          }
          if (checkpoints.some((k) => k >= 4)) break;
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill("SIGKILL");
    await new Promise((r) => child.on("exit", r));
    expect(checkpoints.some((k) => k >= 4)).toBe(true);
    expect(checkpoints.includes(12)).toBe(false);

    const plan = await runCli(dir, ["explain", "diamond", "--set", "walk.iterations=12", "--store", storeDir, "--json"]);
    expect(plan.events.find((e) => e.node === "accumulate")?.detail).toMatch(/^resumes from checkpoint \d+ of 12$/);
    const resumed = await runCli(dir, ["run", "diamond", "--set", "walk.iterations=12", "--store", storeDir, "--json"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const clean = await runCli(dir, ["run", "diamond", "--set", "walk.iterations=12", "--store", join(dir, "clean"), "--json"]);
    const final = async (storeDir2: string) => JSON.parse((await runCli(dir, ["show", "diamond", "accumulate", "--json", "--store", storeDir2])).stdout).nodes[0].dataVersion as string;
    expect(clean.code).toBe(0);
    expect(await final(storeDir)).toBe(await final(join(dir, "clean")));
  });

  it("detects a corrupted blob, warns, and recomputes it", async () => {
    const dir = makeSandbox();
    const storeDir = join(dir, "store");
    const store = ["--store", storeDir, "--json"];
    expect((await runCli(dir, ["run", "diamond", ...store])).code).toBe(0);
    const shown = JSON.parse((await runCli(dir, ["show", "diamond", "numbers", "--json", ...store])).stdout) as { nodes: Array<{ key: string }> };
    const manifest = JSON.parse(readFileSync(join(storeDir, "actions", `${shown.nodes[0]!.key}.json`), "utf8")) as { outputs: { value: { blob: string } } };
    const blob = manifest.outputs.value.blob;
    const blobPath = join(storeDir, "blobs", blob.slice(0, 2), blob);
    const bytes = readFileSync(blobPath);
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = bytes[middle]! ^ 0xff;
    writeFileSync(blobPath, bytes);
    const again = await runCli(dir, ["run", "diamond", ...store]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr.toLowerCase()).toMatch(/corrupt/);
    expect(statusOf(again.events)).toEqual({ numbers: "ran:MISSING", double: "hit", square: "hit", combine: "hit", accumulate: "hit" });
    expect(statSync(blobPath).size).toBe(bytes.length);
    expect((await runCli(dir, ["run", "diamond", ...store])).events.every((e) => e.status === "hit")).toBe(true);
  });

  it("lets two processes share a store, running each stage once", async () => {
    const dir = makeSandbox();
    const args = ["run", "diamond", "--set", "walk.sleepMs=100", "--store", join(dir, "store"), "--json"];
    const runAsync = () =>
      new Promise<{ code: number | null; events: Event[] }>((resolvePromise) => {
        const child = spawn(process.execPath, cliArgs(dir, args), { cwd: dir, env: cliEnv(dir) });
        let stdout = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.on("exit", (code) =>
          resolvePromise({ code, events: stdout.split("\n").filter((l) => l.startsWith('{"stage"')).map((l) => JSON.parse(l) as Event) })
        );
      });
    const [a, b] = await Promise.all([runAsync(), runAsync()]);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    const ran = [...a.events, ...b.events].filter((e) => e.status === "ran").map((e) => e.node).sort();
    expect(ran).toEqual(["accumulate", "combine", "double", "numbers", "square"]);
  });

  it("rejects bad input with exit code 2, one sentence, and nothing written", async () => {
    const dir = makeSandbox();
    const storeDir = join(dir, "store");
    mkdirSync(dir, { recursive: true });
    const cases: Array<[string[], RegExp]> = [
      [["run", "nope"], /Unknown pipeline "nope"/],
      [["run", "diamond", "--set", "nothing.here=1"], /nothing\.here/],
      [["run", "diamond", "--set", "left.factr=3"], /left\.factr/],
      [["run", "diamond", "--set", "left.factor=abc"], /left\.factor/],
      [["run", "diamond", "--set", "source.n=-5"], /source\.n/],
      [["run", "diamond", "--set", "source.n=2.5"], /source\.n/],
      [["run", "diamond", "--set", "left.threads=many"], /left\.threads: expected "auto" or .+, got "many"\.$/m],
      [["run", "diamond", "--preset", "huge"], /no preset "huge"/],
      [["run", "diamond", "--until", "nowhere"], /nowhere/],
      [["frobnicate"], /Unknown command/]
    ];
    for (const [args, pattern] of cases) {
      const result = await runCli(dir, [...args, "--store", storeDir]);
      expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(2);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toMatch(pattern);
      expect(existsSync(storeDir), `${args.join(" ")} wrote to the store`).toBe(false);
    }
  });
});
