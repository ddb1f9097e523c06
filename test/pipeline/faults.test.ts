/**
 * The pipeline CLI under faults, driven through the real launcher in child processes over the
 * fixture pipelines (test/pipeline/fixtures): gc running next to a run, a blob rewritten in place
 * with its size and mtime restored, SIGINT/SIGTERM in the middle of a loop, locks left by another
 * host, a read-only store, and `clean` of entries two pipelines share.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const dirs: string[] = [];
const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts) spawnSync("umount", [m]);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = (label: string) => {
  const dir = mkdtempSync(join(tmpdir(), `faults-${label}-`));
  dirs.push(dir);
  return dir;
};

interface Event {
  node: string;
  key: string;
  status: string;
  reason: string | null;
  detail?: string;
}
interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  events: Event[];
}

const env = { ...process.env, CI: "1", PIPELINE_ENTRY: join(repo, "test/pipeline/fixtures/main.ts") };
const start = (args: string[]): ChildProcess => spawn(process.execPath, [join(repo, "scripts/pipeline.mjs"), ...args], { cwd: repo, env });
const finish = (child: ChildProcess): Promise<Result> =>
  new Promise((done) => {
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code, signal) =>
      done({ code, signal, stdout, stderr, events: stdout.split("\n").filter((l) => l.startsWith("{\"stage\"")).map((l) => JSON.parse(l) as Event) })
    );
  });
const cli = (args: string[]) => finish(start(args));
const statusOf = (events: Event[]) => Object.fromEntries(events.map((e) => [e.node, e.reason ? `${e.status}:${e.reason}` : e.status]));
const files = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);
/** The `accumulate` output's data version as `show` reports it (show hashes what it exports). */
const finalVersion = async (store: string, sets: string[] = []) => {
  const shown = await cli(["show", "diamond", "accumulate", "--json", "--store", store, ...sets]);
  expect(shown.code, shown.stderr).toBe(0);
  return (JSON.parse(shown.stdout) as { nodes: Array<{ dataVersion: string }> }).nodes[0]!.dataVersion;
};
const blobOf = (store: string, key: string) => (JSON.parse(readFileSync(join(store, "actions", `${key}.json`), "utf8")) as { outputs: { value: { blob: string } } }).outputs.value.blob;
const blobPath = (store: string, hash: string) => join(store, "blobs", hash.slice(0, 2), hash);

/** Flips one byte in place (same size, same inode) and puts the mtime back: `dd conv=notrunc`, then `touch -r`. */
const flipInPlace = (path: string) => {
  const before = statSync(path);
  const bytes = readFileSync(path);
  const at = Math.floor(bytes.length / 2);
  const reference = `${path}.times`;
  writeFileSync(reference, "");
  expect(spawnSync("touch", ["-r", path, reference]).status).toBe(0);
  const dd = spawnSync("dd", [`of=${path}`, "bs=1", `seek=${at}`, "count=1", "conv=notrunc", "status=none"], { input: Buffer.from([bytes[at]! ^ 0xff]) });
  expect(dd.status, dd.stderr.toString()).toBe(0);
  expect(spawnSync("touch", ["-r", reference, path]).status).toBe(0);
  rmSync(reference);
  const after = statSync(path);
  expect([after.size, after.mtimeMs, after.ino]).toEqual([before.size, before.mtimeMs, before.ino]);
  expect(readFileSync(path).equals(bytes)).toBe(false);
};

const waitFor = async (condition: () => boolean, ms: number) => {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && !condition()) await new Promise((r) => setTimeout(r, 25));
  return condition();
};
const checkpointsOf = (store: string): number[] => {
  for (const f of files(join(store, "loops"))) {
    try {
      return (JSON.parse(readFileSync(join(store, "loops", f), "utf8")) as { checkpoints: number[] }).checkpoints;
    } catch {
      return [];
    }
  }
  return [];
};

describe("pipeline CLI under faults", { timeout: 240_000 }, () => {
  it("keeps the blobs of a run in flight while gc runs next to it", async () => {
    const store = join(tempDir("gc"), "store");
    // The wide table's run stores its Arrow blob, then spends a while encoding the Parquet export
    // before committing the manifest: gc, with no grace period, runs in a loop all along.
    for (const seed of [1, 2, 3]) {
      const run = start(["run", "wide", "--set", "table.n=1000000", "--set", `seed=${seed}`, "--json", "--store", store]);
      const result = finish(run);
      let done = false;
      void result.then(() => (done = true));
      let gcs = 0;
      while (!done) {
        const gc = await cli(["gc", "--grace", "0", "--store", store]);
        expect(gc.code, gc.stderr).toBe(0);
        gcs++;
      }
      const ran = await result;
      expect(ran.code, ran.stderr).toBe(0);
      expect(ran.events.map((e) => e.status)).toEqual(["ran"]);
      expect(gcs).toBeGreaterThan(1);
    }
    expect(files(join(store, "leases"))).toEqual([]);
    // After the runs, gc keeps everything the manifests reference: re-runs are hits, show verifies.
    expect((await cli(["gc", "--grace", "0", "--store", store])).code).toBe(0);
    for (const seed of [1, 2, 3]) {
      const again = await cli(["run", "wide", "--set", "table.n=1000000", "--set", `seed=${seed}`, "--json", "--store", store]);
      expect(statusOf(again.events)).toEqual({ table: "hit" });
    }
    expect((await cli(["verify", "--store", store])).code).toBe(0);
  });

  it("does not trust a blob rewritten in place with its size and mtime restored: run recomputes, show and verify name it", async () => {
    const store = join(tempDir("flip"), "store");
    const sets = ["--json", "--store", store];
    const first = await cli(["run", "diamond", ...sets]);
    expect(first.code, first.stderr).toBe(0);
    const numbersKey = first.events.find((e) => e.node === "numbers")!.key;
    const blob = blobPath(store, blobOf(store, numbersKey));
    flipInPlace(blob);

    // show exports only verified bytes: one sentence, exit 1, pointing at verify --repair.
    const shown = await cli(["show", "diamond", "numbers", "--store", store]);
    expect(shown.code).toBe(1);
    expect(shown.stderr.trim().split("\n")).toHaveLength(1);
    expect(shown.stderr).toMatch(/node "numbers" is corrupt.*pipeline verify --repair/);
    expect(existsSync(blob)).toBe(true); // show repairs nothing

    const verify = await cli(["verify", "--store", store]);
    expect(verify.code).toBe(1);
    expect(verify.stdout).toMatch(/1 corrupt, 1 cache entries reference a corrupt or missing blob/);
    const repaired = await cli(["verify", "--repair", "--store", store]);
    expect(repaired.code, repaired.stderr).toBe(0);
    expect((await cli(["verify", "--store", store])).code).toBe(0);
    const rerun = await cli(["run", "diamond", ...sets]);
    expect(statusOf(rerun.events)).toEqual({ numbers: "ran:MISSING", double: "hit", square: "hit", combine: "hit", accumulate: "hit" });

    // Without verify: the all-hit check notices the rewrite (the ctime moved) and recomputes.
    flipInPlace(blob);
    const noticed = await cli(["run", "diamond", ...sets]);
    expect(noticed.code, noticed.stderr).toBe(0);
    expect(noticed.stderr).toMatch(/corrupt/);
    expect(statusOf(noticed.events).numbers).toBe("ran:MISSING");
    expect((await cli(["show", "diamond", "numbers", "--store", store])).code).toBe(0);
  });

  it("hashes a stage's inputs as it reads them, even when the stat cache vouches for a corrupt blob, and re-plans", async () => {
    const dir = tempDir("input");
    const store = join(dir, "store");
    const first = await cli(["run", "diamond", "--json", "--store", store]);
    expect(first.code, first.stderr).toBe(0);
    const combineBlob = blobPath(store, blobOf(store, first.events.find((e) => e.node === "combine")!.key));
    flipInPlace(combineBlob);
    // Forge the stat cache to vouch for the corrupt file as it is now (what a filesystem without a
    // trustworthy ctime would allow), so only the read by the running stage can catch it.
    const cachePath = join(store, "stat-cache.json");
    const cache = (existsSync(cachePath) ? JSON.parse(readFileSync(cachePath, "utf8")) : {}) as Record<string, unknown>;
    const now = statSync(combineBlob);
    cache[combineBlob] = { size: now.size, mtimeMs: now.mtimeMs, ctimeMs: now.ctimeMs, hash: basename(combineBlob) };
    writeFileSync(cachePath, JSON.stringify(cache));

    const changed = ["--set", "walk.stepSize=2", "--json"];
    const rerun = await cli(["run", "diamond", ...changed, "--store", store]);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toMatch(/node "combine" is corrupt.*planning again/);
    expect(statusOf(rerun.events)).toMatchObject({ combine: "ran:MISSING", accumulate: "ran:PARAMS" });
    const fresh = await cli(["run", "diamond", ...changed, "--store", join(dir, "fresh")]);
    expect(fresh.code).toBe(0);
    expect(await finalVersion(store)).toBe(await finalVersion(join(dir, "fresh")));
  });

  for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
    it(`stops on ${signal} mid-loop with one line and exit ${code}, leaves no lock, and resumes bit-identically`, async () => {
      const dir = tempDir(signal);
      const store = join(dir, "store");
      const loop = ["--set", "walk.iterations=14", "--set", "walk.checkpointEvery=2"];
      const child = start(["run", "diamond", ...loop, "--set", "walk.sleepMs=120", "--json", "--store", store]);
      const result = finish(child);
      expect(await waitFor(() => checkpointsOf(store).some((k) => k >= 4), 60_000)).toBe(true);
      child.kill(signal);
      const stopped = await result;
      expect(stopped.signal).toBeNull();
      expect(stopped.code).toBe(code);
      const lines = stopped.stderr.trim().split("\n").filter((l) => !/^accumulate \d/.test(l));
      expect(lines).toHaveLength(1);
      const saved = Number(/^interrupted; (\d+) iterations checkpointed, re-run to resume$/.exec(lines[0]!)?.[1]);
      expect(saved).toBeGreaterThanOrEqual(4);
      expect(saved).toBeLessThan(14);
      expect(Math.max(...checkpointsOf(store))).toBe(saved);
      expect(files(join(store, "locks"))).toEqual([]);
      expect(files(join(store, "leases"))).toEqual([]);
      expect(files(join(store, "tmp"))).toEqual([]);

      const plan = await cli(["explain", "diamond", ...loop, "--json", "--store", store]);
      expect(plan.events.find((e) => e.node === "accumulate")?.detail).toBe(`resumes from checkpoint ${saved} of 14`);
      const resumed = await cli(["run", "diamond", ...loop, "--json", "--store", store]);
      expect(resumed.code, resumed.stderr).toBe(0);
      const clean = await cli(["run", "diamond", ...loop, "--json", "--store", join(dir, "clean")]);
      expect(clean.code).toBe(0);
      expect(await finalVersion(store)).toBe(await finalVersion(join(dir, "clean")));
    });
  }

  it("waits for a live lock of another host saying for whom (once), and takes it over once its heartbeat is stale", async () => {
    const store = join(tempDir("host"), "store");
    const plan = await cli(["explain", "diamond", "--json", "--store", store]);
    const key = plan.events.find((e) => e.node === "numbers")!.key;
    const lock = join(store, "locks", `${key}.lock`);
    mkdirSync(dirname(lock), { recursive: true });
    writeFileSync(lock, JSON.stringify({ pid: 1, host: "another-host.example", nonce: "theirs", since: "2026-01-01T00:00:00.000Z", label: "node \"numbers\" of diamond" }));

    const child = start(["run", "diamond", "--json", "--store", store]);
    const result = finish(child);
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    expect(await waitFor(() => /Waiting for node "numbers" of diamond/.test(stderr), 30_000)).toBe(true);
    // Keep the holder's heartbeat fresh for a while: the run keeps waiting and says so only once.
    for (let i = 0; i < 10; i++) {
      const now = new Date();
      utimesSync(lock, now, now);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(stderr).toMatch(/pid 1 on another-host\.example/);
    expect(stderr.match(/Waiting for/g)).toHaveLength(1);
    // The holder's heartbeat stops (an hour ago): the lock is taken over and the run completes.
    const past = new Date(Date.now() - 3_600_000);
    utimesSync(lock, past, past);
    const done = await result;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).toMatch(/Taking over the lock/);
    expect(done.stderr).not.toMatch(/MaxListenersExceeded/);
    expect(files(join(store, "locks"))).toEqual([]);
  });

  it("clean forgets what the pipeline resolves to today, checkpoints included, but not what another pipeline's last run uses", async () => {
    const store = join(tempDir("clean"), "store");
    const json = ["--json", "--store", store];
    expect((await cli(["run", "diamond", ...json])).code).toBe(0);
    const twin = await cli(["run", "twin", ...json]);
    expect(statusOf(twin.events)).toEqual({ numbers: "hit", double: "hit" });
    const blobsBefore = spawnSync("find", [join(store, "blobs"), "-type", "f"]).stdout.toString().trim().split("\n").length;

    const cleaned = await cli(["clean", "diamond", ...json]);
    expect(cleaned.code, cleaned.stderr).toBe(0);
    // square, combine, accumulate at 6 and its checkpoints 2 and 4; numbers and double stay for twin.
    expect(JSON.parse(cleaned.stdout)).toEqual({ pipeline: "diamond", forgotten: 5, checkpoints: 2, kept: 2 });
    const gc = await cli(["gc", "--grace", "0", ...json]);
    expect(gc.code).toBe(0);
    expect((JSON.parse(gc.stdout) as { removedBlobs: number }).removedBlobs).toBeGreaterThanOrEqual(5);
    const blobsAfter = spawnSync("find", [join(store, "blobs"), "-type", "f"]).stdout.toString().trim().split("\n").length;
    expect(blobsBefore - blobsAfter).toBe((JSON.parse(gc.stdout) as { removedBlobs: number }).removedBlobs);

    expect(Object.values(statusOf((await cli(["run", "twin", ...json])).events))).toEqual(["hit", "hit"]);
    // No checkpoint survives: the loop index is gone and so is every checkpoint manifest.
    expect(files(join(store, "loops"))).toEqual([]);
    const left = files(join(store, "actions")).map((f) => JSON.parse(readFileSync(join(store, "actions", f), "utf8")) as { node: string });
    expect(left.map((m) => m.node).sort()).toEqual(["double", "numbers"]);
    const again = await cli(["run", "diamond", ...json]);
    expect(statusOf(again.events)).toMatchObject({ numbers: "hit", double: "hit", square: "ran:MISSING", accumulate: "ran:MISSING" });
    // Bad params: exit 2 and nothing forgotten.
    const bad = await cli(["clean", "diamond", "--set", "walk.iterations=-1", ...json]);
    expect(bad.code).toBe(2);
    expect(Object.values(statusOf((await cli(["run", "diamond", ...json])).events)).every((s) => s === "hit")).toBe(true);
  });

  // A read-only bind mount really refuses writes, also to root (chmod would not).
  const canMount = (() => {
    if (process.platform !== "linux" || process.getuid?.() !== 0) return false;
    const probe = mkdtempSync(join(tmpdir(), "faults-probe-"));
    mkdirSync(join(probe, "a"));
    mkdirSync(join(probe, "b"));
    const ok = spawnSync("mount", ["--bind", "-o", "ro", join(probe, "a"), join(probe, "b")]).status === 0;
    if (ok) spawnSync("umount", [join(probe, "b")]);
    rmSync(probe, { recursive: true, force: true });
    return ok;
  })();

  it.skipIf(!canMount)("serves all-hit runs from a read-only store mounted at another path; clean and show fail with one sentence", async () => {
    const dir = tempDir("ro");
    const store = join(dir, "store");
    const first = await cli(["run", "diamond", "--json", "--store", store]);
    expect(first.code, first.stderr).toBe(0);
    const mounted = join(dir, "mounted");
    mkdirSync(mounted);
    expect(spawnSync("mount", ["--bind", "-o", "ro", store, mounted]).status).toBe(0);
    mounts.push(mounted);

    const run = await cli(["run", "diamond", "--json", "--store", mounted]);
    expect(run.code, run.stderr).toBe(0);
    expect(Object.values(statusOf(run.events))).toEqual(["hit", "hit", "hit", "hit", "hit"]);
    expect((await cli(["verify", "--store", mounted])).code).toBe(0);
    for (const args of [["clean", "diamond"], ["show", "diamond", "numbers"]]) {
      const result = await cli([...args, "--store", mounted]);
      expect(result.stderr).not.toMatch(/\n\s+at /);
      if (result.code !== 0) {
        expect(result.code, args.join(" ")).toBe(1);
        expect(result.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
      }
    }
    const clean = await cli(["clean", "diamond", "--store", mounted]);
    expect(clean.code).toBe(1);
    expect(clean.stderr).toMatch(/read-only/);
  });
});
