/**
 * Fault injection over the artifact store and runner: N faults drawn from a seeded schedule, each
 * against the fixture diamond pipeline (four stages and an 8-iteration checkpointed loop) run
 * through the real CLI launcher. Fault kinds:
 *   kill     SIGKILL or SIGTERM at a random moment of a first run, then a re-run;
 *   flip     one byte of a random blob flipped in place with its mtime restored, then a run, and
 *            (when the run does not read that blob) `verify`, `verify --repair` and a run;
 *   gc       `gc --grace 0` in a loop next to a first run;
 *   run      two first runs at once on one store.
 * SIGTERM exits 143 once the run has installed its handler (earlier, during start-up, Node's default
 * applies: nothing has been written yet). A fault is survived when the store ends with every node's data version equal to a fault-free
 * run's (as `show`, which hashes what it exports, reports them) and `verify` finds nothing. Prints
 * one JSON object. Usage: node --import tsx test/bench/store-faults.bench.ts [faults] [seed]
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Random } from "../../core/random/philox.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const faults = Number(process.argv[2] ?? 100);
const seed = Number(process.argv[3] ?? 20261203);
const env = { ...process.env, CI: "1", PIPELINE_ENTRY: join(root, "test/pipeline/fixtures/main.ts") };
const params = ["--set", "walk.iterations=8", "--set", "walk.checkpointEvery=2"];
const slow = ["--set", "walk.sleepMs=40"];

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}
const cliAsync = (args: string[]) => {
  const child = spawn(process.execPath, [join(root, "scripts/pipeline.mjs"), ...args], { cwd: root, env });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Outcome>((resolveDone) => child.on("close", (code) => resolveDone({ code, stdout, stderr })));
  return { child, done };
};
const cli = (args: string[]) => cliAsync(args).done;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** node -> data version of every node, from `show` (which verifies the bytes it exports). */
const versions = async (store: string): Promise<string | undefined> => {
  const shown = await cli(["show", "diamond", "--json", "--store", store, ...params]);
  if (shown.code !== 0) return undefined;
  const nodes = (JSON.parse(shown.stdout) as { nodes: Array<{ node: string; dataVersion?: string }> }).nodes;
  return JSON.stringify(nodes.map((n) => [n.node, n.dataVersion ?? "not run"]));
};
const allBlobs = (store: string): string[] => {
  const dir = join(store, "blobs");
  return readdirSync(dir).flatMap((p) => readdirSync(join(dir, p)).map((b) => join(dir, p, b))).sort();
};
/** `dd conv=notrunc` of one flipped byte, then `touch -r` back to the old times. */
const flip = (path: string, rng: Random) => {
  const bytes = readFileSync(path);
  const at = rng.int(bytes.length);
  const ref = `${path}.times`;
  writeFileSync(ref, "");
  spawnSync("touch", ["-r", path, ref]);
  spawnSync("dd", [`of=${path}`, "bs=1", `seek=${at}`, "count=1", "conv=notrunc", "status=none"], { input: Buffer.from([bytes[at]! ^ (1 + rng.int(255))]) });
  spawnSync("touch", ["-r", ref, path]);
  rmSync(ref);
  return statSync(path).size;
};

const work = mkdtempSync(join(tmpdir(), "bench-store-faults-"));
const reference = join(work, "reference");
const first = await cli(["run", "diamond", ...params, "--json", "--store", reference]);
if (first.code !== 0) throw new Error(`fault-free run failed: ${first.stderr}`);
const expected = await versions(reference);

const rng = Random.fromSeed(seed);
const kinds = ["kill", "flip", "gc", "run"] as const;
const tally = {
  faults: 0,
  byKind: { kill: 0, flip: 0, gc: 0, run: 0 } as Record<(typeof kinds)[number], number>,
  runs: 0,
  runsCompleted: 0,
  killsBySignal: { SIGKILL: 0, SIGTERM: 0 },
  sigtermExit143: 0,
  /** Lock or lease files a SIGTERMed run left behind (it must release them; SIGKILL cannot). */
  sigtermLeftovers: 0,
  corruptionsInjected: 0,
  corruptionsDetectedByRun: 0,
  corruptionsDetectedByVerify: 0,
  identical: 0,
  verifyClean: 0,
  survived: 0,
  failures: [] as string[]
};
const started = performance.now();
for (let i = 0; i < faults; i++) {
  const kind = kinds[rng.int(kinds.length)]!;
  const store = join(work, `store-${i}`);
  const args = ["run", "diamond", ...params, "--json", "--store", store];
  tally.faults++;
  tally.byKind[kind]++;
  const run = async (extra: string[] = []) => {
    tally.runs++;
    const result = await cli([...args, ...extra]);
    if (result.code === 0) tally.runsCompleted++;
    return result;
  };
  let note = "";
  if (kind === "kill") {
    const signal = rng.bernoulli(0.5) ? "SIGKILL" : "SIGTERM";
    const delay = rng.uniformIn(0, 1500);
    tally.killsBySignal[signal]++;
    tally.runs++;
    const victim = cliAsync([...args, ...slow]);
    await sleep(delay);
    victim.child.kill(signal);
    const killed = await victim.done;
    if (killed.code === 0) tally.runsCompleted++; // finished before the signal
    if (signal === "SIGTERM" && killed.code === 143) tally.sigtermExit143++;
    if (signal === "SIGTERM") tally.sigtermLeftovers += ["locks", "leases"].flatMap((d) => (existsSync(join(store, d)) ? readdirSync(join(store, d)) : [])).length;
    note = `${signal} after ${delay.toFixed(0)} ms (exit ${killed.code})`;
    await run();
  } else if (kind === "flip") {
    await run();
    const blobs = allBlobs(store);
    const victim = blobs[rng.int(blobs.length)]!;
    flip(victim, rng);
    tally.corruptionsInjected++;
    const after = await run();
    const byRun = /corrupt/.test(after.stderr);
    const check = await cli(["verify", "--json", "--store", store]);
    const byVerify = check.code === 1;
    if (byRun) tally.corruptionsDetectedByRun++;
    else if (byVerify) tally.corruptionsDetectedByVerify++;
    if (byVerify) {
      await cli(["verify", "--repair", "--store", store]);
      await run();
    }
    note = `flipped ${victim.slice(-64, -52)} (run ${byRun ? "noticed" : "did not read it"}, verify ${byVerify ? "found it" : "clean"})`;
  } else if (kind === "gc") {
    tally.runs++;
    const target = cliAsync([...args, ...slow]);
    let finished = false;
    void target.done.then(() => (finished = true));
    while (!finished) await cli(["gc", "--grace", "0", "--store", store]);
    if ((await target.done).code === 0) tally.runsCompleted++;
    else note = `run next to gc failed: ${(await target.done).stderr.trim().split("\n").pop()}`;
  } else {
    tally.runs += 2;
    const [a, b] = await Promise.all([cliAsync([...args, ...slow]).done, cliAsync([...args, ...slow]).done]);
    tally.runsCompleted += (a.code === 0 ? 1 : 0) + (b.code === 0 ? 1 : 0);
    if (a.code !== 0 || b.code !== 0) note = `concurrent runs exited ${a.code} and ${b.code}`;
  }
  const same = (await versions(store)) === expected;
  const clean = (await cli(["verify", "--store", store])).code === 0;
  if (same) tally.identical++;
  if (clean) tally.verifyClean++;
  if (same && clean) tally.survived++;
  else tally.failures.push(`#${i} ${kind}: ${note || "no detail"}; identical ${same}, verify clean ${clean}`);
  rmSync(store, { recursive: true, force: true });
}
rmSync(work, { recursive: true, force: true });
console.log(
  JSON.stringify({
    benchmark: "store-faults",
    seed,
    ...tally,
    wallSeconds: Math.round((performance.now() - started) / 1000),
    goal: { survived: faults }
  })
);
