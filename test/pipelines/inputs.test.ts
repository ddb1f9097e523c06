/**
 * Bad input and command-line hygiene of the `pipeline` command, through the real CLI in child
 * processes: every problem ends in one sentence that names it and says what to do, with the exit
 * code the README promises (2 for bad usage or params, then nothing is written; 1 when a stage
 * fails) and nothing half-written. Also: `show` only reads (the run writes the export files),
 * stale exports are never presented as current, and a reader that closes the pipe early
 * (`show | head`) ends the command quietly.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { Either } from "effect";
import { afterAll, describe, expect, it } from "vitest";
import { resolveParams } from "../../core/pipeline/runner.ts";
import { registry } from "../../pipelines/index.ts";
import { launcherRunner, repo } from "./cli.ts";

const dirs: string[] = [];
const freshDir = (name: string): string => {
  const dir = mkdtempSync(join(tmpdir(), `inputs-${name}-`));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Every file under `root` with its size, mtime and content hash (empty when `root` is absent). */
const snapshot = (root: string): Record<string, string> => {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else {
        const s = statSync(path);
        out[relative(root, path)] = `${s.size} ${s.mtimeMs} ${createHash("sha256").update(readFileSync(path)).digest("hex")}`;
      }
    }
  };
  walk(root);
  return out;
};

/**
 * The files of results: cache entries, blobs, node records, loop indexes, exports. Left out: the
 * store's own bookkeeping (locks, the stat cache of verified blob hashes, temporary files).
 */
const results = (store: string): Record<string, string> =>
  Object.fromEntries(Object.entries(snapshot(store)).filter(([f]) => /^(actions|blobs|refs|exports|loops)\//.test(f)));

/** One sentence: a single `error:` line on stderr, and nothing else there. */
const errorLine = (stderr: string): string => {
  const lines = stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  return lines[0]!;
};

describe("every preset the README offers is valid", { timeout: 120_000 }, () => {
  it("decodes the params of every node of every pipeline, with no preset and with each preset", async () => {
    const problems: string[] = [];
    let checked = 0;
    for (const entry of registry) {
      const pipeline = await entry.load();
      for (const preset of [undefined, ...Object.keys(pipeline.presets)]) {
        const resolved = resolveParams(pipeline, preset, []);
        checked++;
        if (Either.isLeft(resolved)) problems.push(`${pipeline.name} ${preset ?? "(defaults)"}: ${resolved.left.message}`);
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(registry.length * 2);
  });
});

describe("pipeline run: bad params stop everything, whatever --until selects", { timeout: 120_000 }, () => {
  it("validates the params of nodes --until leaves out (exit 2, nothing written)", async () => {
    const store = freshDir("until");
    const run = launcherRunner("pipelines/main.ts", store);
    const result = await run(["run", "calibrate-exp4", "--until", "load-l2", "--set", "calibration.iterations=-1"]);
    expect(result.code).toBe(2);
    const line = errorLine(result.stderr);
    expect(line).toContain("calibration.iterations");
    expect(line).toMatch(/non-negative/);
    expect(snapshot(store)).toEqual({});
  });

  it("says an empty ecn.data.path is empty and how to set it, not that the working directory is unreadable", async () => {
    const store = freshDir("empty-path");
    const result = await launcherRunner("pipelines/main.ts", store)(["run", "ecn-fit", "--set", "ecn.data.source=csv"]);
    expect(result.code).toBe(2);
    const line = errorLine(result.stderr);
    expect(line).toContain("ecn.data.path");
    expect(line).toMatch(/empty/);
    expect(line).toContain("--set ecn.data.path=FILE");
    expect(line).not.toContain(repo);
    expect(snapshot(store)).toEqual({});
  });

  it("refuses a LOBSTER path that names neither a zip nor a message file (exit 2)", async () => {
    const store = freshDir("lobster-name");
    const result = await launcherRunner("pipelines/main.ts", store)(["run", "ecn-fit", "--set", "ecn.data.source=lobster", "--set", "ecn.data.path=README.md"]);
    expect(result.code).toBe(2);
    const line = errorLine(result.stderr);
    expect(line).toContain("ecn.data.path");
    expect(line).toMatch(/neither a LOBSTER zip nor a \*_message_N\.csv file/);
    expect(snapshot(store)).toEqual({});
  });

  it("refuses a data file that is not there before running anything (exit 2)", async () => {
    const store = freshDir("no-file");
    const missing = join(store, "..", "no-such-book.csv");
    const result = await launcherRunner("pipelines/main.ts", store)(["run", "ecn-fit", "--set", "ecn.data.source=csv", "--set", `ecn.data.path=${missing}`]);
    expect(result.code).toBe(2);
    expect(errorLine(result.stderr)).toContain("no-such-book.csv");
    expect(snapshot(store)).toEqual({});
  });
});

describe("a level-2 book that never changes", { timeout: 120_000 }, () => {
  it("fails loading with a domain error naming the file, and stores nothing (exit 1)", async () => {
    const store = freshDir("constant");
    const csv = join(store, "..", `constant-book-${process.pid}.csv`);
    const rows = ["t,ask_px_1,ask_sz_1,bid_px_1,bid_sz_1,ask_px_2,ask_sz_2,bid_px_2,bid_sz_2"];
    for (let i = 0; i < 600; i++) rows.push(`${34200 + i},100.02,5,100.00,7,100.03,9,99.99,11`);
    writeFileSync(csv, rows.join("\n") + "\n");
    try {
      const result = await launcherRunner("pipelines/main.ts", store)(["run", "ecn-fit", "--set", "ecn.data.source=csv", "--set", `ecn.data.path=${csv}`]);
      expect(result.code).toBe(1);
      const line = errorLine(result.stderr.split("\n").filter((l) => !l.startsWith("info: ")).join("\n"));
      expect(line).toContain(csv);
      expect(line).toMatch(/the book never changes/);
      expect(line).toMatch(/pick a window where the market trades/);
      expect(line).not.toMatch(/NaN|cache key/);
      expect(results(store)).toEqual({});
    } finally {
      rmSync(csv, { force: true });
    }
  });
});

describe("show only reads; run writes the export files", { timeout: 120_000 }, () => {
  it("lists the files the run wrote, changes nothing, and never presents stale or cleaned exports", async () => {
    const store = freshDir("show");
    const cli = launcherRunner("test/pipeline/fixtures/main.ts", store);
    expect((await cli(["run", "diamond", "--json"])).code).toBe(0);
    // The run wrote every node's files, before any show.
    const exportsDir = join(store, "exports", "diamond");
    expect(readdirSync(exportsDir).sort()).toEqual(["accumulate", "combine", "double", "numbers", "square"]);

    const before = results(store);
    expect(Object.keys(before).length).toBeGreaterThan(20);
    const text = await cli(["show", "diamond"]);
    const json = await cli(["show", "diamond", "--json"]);
    expect(text.code).toBe(0);
    expect(json.code).toBe(0);
    expect(results(store)).toEqual(before);

    // Each listed file holds the bytes of the stored output it names.
    const shown = JSON.parse(json.stdout) as { nodes: Array<{ node: string; key: string; files: Record<string, string> }> };
    expect(shown.nodes).toHaveLength(5);
    for (const node of shown.nodes) {
      const manifest = JSON.parse(readFileSync(join(store, "actions", `${node.key}.json`), "utf8")) as { outputs: { value: { blob: string } } };
      const blob = manifest.outputs.value.blob;
      expect(createHash("sha256").update(readFileSync(node.files["value"]!)).digest("hex")).toBe(blob);
      expect(text.stdout).toContain(node.files["value"]!);
    }

    // Files copied from another result are not passed off as this one's.
    const record = join(exportsDir, "numbers", ".export.json");
    writeFileSync(record, JSON.stringify({ ...JSON.parse(readFileSync(record, "utf8")), key: "0".repeat(64) }));
    const stale = await cli(["show", "diamond", "numbers"]);
    expect(stale.code).toBe(0);
    expect(stale.stdout).toMatch(/export files not written; run pipeline run diamond/);
    expect(stale.stdout).not.toContain(join(exportsDir, "numbers", "value"));
    // A run (all hits) writes them again.
    expect((await cli(["run", "diamond", "--json"])).code).toBe(0);
    expect((await cli(["show", "diamond", "numbers"])).stdout).toContain(join(exportsDir, "numbers", "value"));

    // After clean nothing is presented as current, and the copies are gone.
    expect((await cli(["clean", "diamond"])).code).toBe(0);
    const cleaned = await cli(["show", "diamond", "--json"]);
    const nodes = (JSON.parse(cleaned.stdout) as { nodes: Array<{ status?: string; files?: unknown }> }).nodes;
    expect(nodes.map((n) => n.status)).toEqual(["not run", "not run", "not run", "not run", "not run"]);
    expect(nodes.every((n) => n.files === undefined)).toBe(true);
    expect(existsSync(exportsDir)).toBe(false);
  });
});

describe("export files that cannot be written", { timeout: 120_000 }, () => {
  it("are a warning naming the node, the result is still stored, and show says they are missing", async () => {
    const store = freshDir("export-blocked");
    const cli = launcherRunner("test/pipeline/fixtures/main.ts", store);
    // A plain file where the node's export directory should be.
    mkdirSync(join(store, "exports", "diamond"), { recursive: true });
    writeFileSync(join(store, "exports", "diamond", "numbers"), "in the way");
    const run = await cli(["run", "diamond", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/warn\w*: could not write the export files of node "numbers" \(.*\); pipeline show will not list them/);
    const shown = await cli(["show", "diamond", "numbers"]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/export files not written; run pipeline run diamond/);
    expect((await cli(["show", "diamond", "square"])).stdout).toContain(join(store, "exports", "diamond", "square", "value"));
  });
});

/** Runs the CLI with its stdout already closed by the reader, as `show | head` does once head exits. */
const runWithClosedStdout = (entry: string, args: string[]): Promise<{ code: number | null; stderr: string }> =>
  new Promise((done) => {
    const child = spawn(process.execPath, [join(repo, "scripts/pipeline.mjs"), ...args], {
      cwd: repo,
      env: { ...process.env, CI: "1", PIPELINE_ENTRY: join(repo, entry) },
      stdio: ["ignore", "pipe", "pipe"]
    });
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => done({ code, stderr }));
  });

describe("a reader that stops early", { timeout: 120_000 }, () => {
  it("list --json | head and show | head end quietly with exit 0", async () => {
    const store = freshDir("epipe");
    expect((await launcherRunner("test/pipeline/fixtures/main.ts", store)(["run", "diamond", "--json"])).code).toBe(0);
    const list = await runWithClosedStdout("pipelines/main.ts", ["list", "--json"]);
    expect(list).toEqual({ code: 0, stderr: "" });
    const show = await runWithClosedStdout("test/pipeline/fixtures/main.ts", ["show", "diamond", "--store", store]);
    expect(show).toEqual({ code: 0, stderr: "" });
  });

  it("a run whose output is cut finishes its work silently", async () => {
    const store = freshDir("epipe-run");
    const run = await runWithClosedStdout("test/pipeline/fixtures/main.ts", ["run", "diamond", "--json", "--store", store]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/EPIPE|Error/);
    expect(readdirSync(join(store, "refs", "diamond")).sort()).toEqual(["accumulate.json", "combine.json", "double.json", "numbers.json", "square.json"]);
  });
});
