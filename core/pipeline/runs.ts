/**
 * The run log (what `dvc exp show` and MLflow's run list give their users): every `pipeline run`
 * that gets past parameter checking leaves one record in `<store>/runs/`: the pipeline, the preset
 * and overrides asked for, the resolved params and seed, the git commit of the working tree (and
 * whether it had uncommitted changes), per node its cache key, code fingerprint, status and time,
 * and the outcome. Records refer to results by cache key, so an old run stays addressable after
 * newer ones as long as its entries are in the store (`clean` forgets entries; `gc` then frees
 * their blobs; `gc --keep-runs N` keeps the newest N runs of each pipeline and forgets the entries
 * only older runs referred to). Runs are named by an id (a timestamp and a random suffix), any unambiguous prefix
 * of it, or `@1` for the newest run, `@2` for the one before, and so on (of a pipeline when one
 * is given).
 */
import { execFileSync } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { Schema } from "effect";
import { readJson, writeJsonAtomic } from "./json-file.ts";

const JsonTree = Schema.Record({ key: Schema.String, value: Schema.Unknown });

export const RunNode = Schema.Struct({
  node: Schema.String,
  stage: Schema.String,
  status: Schema.String,
  reason: Schema.NullOr(Schema.String),
  key: Schema.String,
  /** Loops: the key their checkpoints and curves hang from. */
  loopKey: Schema.optional(Schema.String),
  code: Schema.optional(Schema.String),
  ms: Schema.Number
});
export type RunNode = typeof RunNode.Type;

export const RunRecord = Schema.Struct({
  version: Schema.Literal(1),
  id: Schema.String,
  pipeline: Schema.String,
  preset: Schema.NullOr(Schema.String),
  /** The `--set` overrides as given, in order. */
  sets: Schema.Array(Schema.Tuple(Schema.String, Schema.Unknown)),
  until: Schema.NullOr(Schema.String),
  /** The whole params tree after defaults, preset and overrides. */
  params: JsonTree,
  seed: Schema.Number,
  commit: Schema.NullOr(Schema.String),
  dirty: Schema.NullOr(Schema.Boolean),
  startedAt: Schema.String,
  endedAt: Schema.String,
  seconds: Schema.Number,
  outcome: Schema.Literal("succeeded", "failed", "interrupted"),
  error: Schema.optional(Schema.String),
  nodes: Schema.Array(RunNode)
});
export type RunRecord = typeof RunRecord.Type;

export const runsDir = (storeRoot: string) => join(storeRoot, "runs");

/** A new run id: sortable by start time, unique across processes. */
export const newRunId = (started: Date): string =>
  `${started.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "").replace("T", "-")}-${Math.random().toString(16).slice(2, 6)}`;

/** The commit of the git checkout at `cwd` and whether it has uncommitted changes; nulls outside a checkout. */
export const gitState = (cwd: string): { commit: string | null; dirty: boolean | null } => {
  try {
    const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const status = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    return { commit, dirty: status.trim() !== "" };
  } catch {
    return { commit: null, dirty: null };
  }
};

export const writeRunRecord = (storeRoot: string, record: RunRecord): Promise<void> => writeJsonAtomic(join(runsDir(storeRoot), `${record.id}.json`), record);

/** Every readable run record, newest first (optionally of one pipeline). */
export const listRuns = async (storeRoot: string, pipeline?: string): Promise<RunRecord[]> => {
  let names: string[];
  try {
    names = (await readdir(runsDir(storeRoot))).filter((n) => n.endsWith(".json"));
  } catch {
    return [];
  }
  const records = await Promise.all(names.map((n) => readJson(join(runsDir(storeRoot), n), RunRecord)));
  return records
    .filter((r): r is RunRecord => r !== undefined && (pipeline === undefined || r.pipeline === pipeline))
    .sort((a, b) => (a.startedAt === b.startedAt ? b.id.localeCompare(a.id) : b.startedAt.localeCompare(a.startedAt)));
};

export class RunNotFound extends Error {
  readonly _tag = "RunNotFound";
}

/** The run a reference names: `@n` (n-th newest), an id or an unambiguous prefix of one. */
export const findRun = (runs: readonly RunRecord[], ref: string): RunRecord => {
  const newest = /^@(\d+)$/.exec(ref);
  if (newest !== null) {
    const run = runs[Number(newest[1]) - 1];
    if (run === undefined) throw new RunNotFound(`There is no run ${ref}: the store has ${runs.length} run(s); see pipeline runs.`);
    return run;
  }
  const matches = runs.filter((r) => r.id.startsWith(ref));
  if (matches.length === 1) return matches[0]!;
  throw new RunNotFound(
    matches.length === 0 ? `No run has the id ${ref}; see pipeline runs for the ids.` : `${ref} names ${matches.length} runs (${matches.map((r) => r.id).join(", ")}); give more of the id.`
  );
};

/** The params tree as dotted leaf paths with JSON values. */
export const flattenParams = (tree: unknown, prefix = "", out = new Map<string, string>()): Map<string, string> => {
  if (tree !== null && typeof tree === "object" && !Array.isArray(tree)) {
    for (const [k, v] of Object.entries(tree)) flattenParams(v, prefix === "" ? k : `${prefix}.${k}`, out);
  } else out.set(prefix, JSON.stringify(tree) ?? "null");
  return out;
};

/** The params that differ between two runs: path, value in the first, value in the second. */
export const diffParams = (a: RunRecord, b: RunRecord): { path: string; a: string; b: string }[] => {
  const fa = flattenParams({ ...a.params, seed: a.seed });
  const fb = flattenParams({ ...b.params, seed: b.seed });
  return [...new Set([...fa.keys(), ...fb.keys()])]
    .sort()
    .filter((k) => fa.get(k) !== fb.get(k))
    .map((path) => ({ path, a: fa.get(path) ?? "unset", b: fb.get(path) ?? "unset" }));
};

/**
 * The retention policy of `gc --keep-runs N`: per pipeline, the runs beyond the newest `keep`, and
 * the cache entries (node keys) and loop curves only those runs refer to. Entries that `protect`
 * holds (each node's current result) are never forgotten.
 */
export const retentionPlan = (
  runs: readonly RunRecord[],
  keep: number,
  protect: ReadonlySet<string>
): { dropped: RunRecord[]; forgottenKeys: string[]; forgottenLoops: string[] } => {
  const byPipeline = new Map<string, RunRecord[]>();
  for (const run of runs) byPipeline.set(run.pipeline, [...(byPipeline.get(run.pipeline) ?? []), run]);
  const dropped: RunRecord[] = [];
  const kept: RunRecord[] = [];
  for (const list of byPipeline.values()) {
    // `listRuns` gives newest first.
    kept.push(...list.slice(0, keep));
    dropped.push(...list.slice(keep));
  }
  const keptKeys = new Set(kept.flatMap((r) => r.nodes.map((n) => n.key)));
  const keptLoops = new Set(kept.flatMap((r) => r.nodes.flatMap((n) => (n.loopKey === undefined ? [] : [n.loopKey]))));
  const forgottenKeys = [...new Set(dropped.flatMap((r) => r.nodes.map((n) => n.key)))].filter((k) => !keptKeys.has(k) && !protect.has(k));
  const forgottenLoops = [...new Set(dropped.flatMap((r) => r.nodes.flatMap((n) => (n.loopKey === undefined ? [] : [n.loopKey]))))].filter((k) => !keptLoops.has(k));
  return { dropped, forgottenKeys, forgottenLoops };
};
