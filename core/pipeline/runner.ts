/**
 * The runner: plans and executes a pipeline over the artifact store (ARCHITECTURE section 3).
 * For each node in order it computes the cache key from the stage name, the code fingerprint,
 * the canonical decoded params (seed included), the data versions of its inputs and the runtime
 * versions that change results; a stored manifest under that key is a hit, otherwise the stage
 * runs under a per-key lock and its output is written blob first, manifest last. Every decision
 * comes with its reason, found by comparing the key's parts with the node's previous run:
 * MISSING (never run or evicted), CODE, PARAMS or INPUT; for CODE, the per-module hashes the
 * previous run recorded name the first changed module and the import path to it. Loop nodes
 * resume from their latest checkpoint: the state after k iterations is a pure function of
 * (loop key, k), so checkpoint k is stored under hash(loop key, k) and raising N re-uses every
 * checkpoint already made. A checkpoint write is never cut in half by an interruption (it
 * completes, then the run stops), and the bytes a running stage reads are hashed: an input found
 * corrupt or gone is dropped and the plan is made again, so the node that produced it is recomputed.
 */
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { join, resolve as resolvePath } from "node:path";
import { fileURLToPath } from "node:url";
import { mkdir, writeFile } from "node:fs/promises";
import { Context, Data, Deferred, Effect, Either, FiberId, Layer, ParseResult, Schema } from "effect";
import { Backend } from "./backend.ts";
import { cacheKey, canonicalJson } from "./canonical.ts";
import { writeExports } from "./exports.ts";
import { describeCodeChange, fingerprintModule, formatCodeChange, runtimeFingerprint, type CodeChange } from "./fingerprint.ts";
import { LoopBody, prepareBody, type PreparedBody } from "./loop-body.ts";
import { getPath, mergeParams, setPath, UsageError, type JsonValue, type ParamTree } from "./params.ts";
import { absoluteParamPath, nodeKeyName, paramsPathsOf, Pipeline as PipelineOps, rawParamsOf, readsParam, type ParamsSource, type Pipeline, type PipelineNode, type Resources } from "./pipeline.ts";
import { Progress } from "./progress.ts";
import { Rng } from "./rng.ts";
import type { AnyStage, LoopContext, LoopStage, Stage, StageServices, TaggedFailure } from "./stage.ts";
import { readJson, writeJsonAtomic } from "./json-file.ts";
import { ArtifactStore, dataVersionOf, type Manifest } from "./store.ts";
import { makeWorkspace, Workspace } from "./workspace.ts";

export type Reason = "MISSING" | "CODE" | "PARAMS" | "INPUT";
export type EventStatus = "hit" | "ran" | "failed" | "will-run";

/** One stage event, as printed by `--json`. */
export interface StageEvent {
  readonly stage: string;
  readonly node: string;
  readonly key: string;
  readonly status: EventStatus;
  readonly reason: Reason | null;
  readonly ms: number;
  readonly detail?: string;
  /**
   * For reason CODE, when the previous run recorded its per-module hashes: the first changed
   * module and the import path from the stage module to it.
   */
  readonly changed?: { readonly file: string; readonly via: readonly string[] };
}

/** One finished loop iteration, as printed by `--json` (`"event": "iteration"`). */
export interface IterationEvent {
  readonly event: "iteration";
  readonly node: string;
  readonly iteration: number;
  readonly iterations: number;
  /** Seconds since this run of the loop started, and the estimate of the seconds left. */
  readonly elapsedSeconds: number;
  readonly etaSeconds: number;
  readonly metrics: Readonly<Record<string, number>>;
}

export class StageRunError extends Data.TaggedError("StageRunError")<{
  readonly node: string;
  readonly stage: string;
  readonly message: string;
}> {}

export interface RunRequest {
  readonly pipeline: Pipeline;
  readonly preset?: string | undefined;
  readonly sets?: ReadonlyArray<readonly [string, JsonValue]>;
  readonly until?: string | undefined;
  /** Store root directory (for the node-reference index that explains re-runs). */
  readonly storeRoot: string;
  /** Plan only: report what would run and why, run nothing. */
  readonly explainOnly?: boolean;
  readonly onEvent?: (event: StageEvent) => void;
  /** The run's identity for the provenance header of exported HTML pages (given by the CLI). */
  readonly run?: { readonly id: string; readonly commit: string | null; readonly dirty: boolean | null };
  /** Called after each loop iteration with its figures (what `--json` prints as progress events). */
  readonly onIteration?: (event: IterationEvent) => void;
  /** Called with a loop node's latest persisted iteration (on resume and after each checkpoint). */
  readonly onCheckpoint?: (node: string, iteration: number) => void;
  /** Called with each node's cache key once known; `loopKey` is the key checkpoints chain from. */
  readonly onKey?: (node: string, key: string, loopKey: string | undefined, code: string) => void;
  /**
   * Loop-body steps (e.g. "rollouts") whose output every iteration is kept as files for inspection
   * (their stage's exports, e.g. Parquet), in `keptDir`. Only iterations that run are kept.
   */
  readonly keep?: ReadonlyArray<string>;
  /** Replaces the pipeline's resources for this run (tests: an in-thread rollout executor, a fake backend). */
  readonly resources?: Resources<unknown>;
}

/** Where `keep` puts a loop step's outputs: one file per iteration and export. */
export const keptDir = (storeRoot: string, pipeline: string, node: string, step: string) => join(storeRoot, "kept", pipeline, node, step);

/** An input of a running stage was corrupt or missing: the plan is made again so its producer re-runs. */
class InputLost extends Data.TaggedError("InputLost")<{ readonly node: string; readonly message: string }> {}

export interface NodeResult {
  readonly node: string;
  readonly key: string;
  readonly dataVersion: string;
  readonly manifest: Manifest;
}

interface ResolvedNode {
  readonly node: PipelineNode;
  readonly params: unknown;
  /** Canonical encoded params (execution params removed, and schedule params for loops). */
  readonly keyParams: unknown;
  /** The execution params (worker counts...): not in the key, recorded in provenance. */
  readonly executionParams: Record<string, unknown>;
  /** Canonical encoded params, all of them. */
  readonly encodedParams: unknown;
  readonly iterations: number;
  readonly checkpointEvery: number;
}

/**
 * Previous-run record of a node, used to explain why it re-runs. `files` (module -> hash of its
 * compiled form) and `scheme` let a CODE re-run name the module that changed; records written
 * before they existed lack them and a re-run just says CODE.
 */
const NodeRecord = Schema.Struct({
  key: Schema.String,
  code: Schema.String,
  params: Schema.String,
  inputs: Schema.Record({ key: Schema.String, value: Schema.String }),
  files: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  scheme: Schema.optional(Schema.String)
});
type NodeRecord = typeof NodeRecord.Type;

/** One loop iteration's figures, as the stage reported them. */
export const CurvePoint = Schema.Struct({ iteration: Schema.Number, metrics: Schema.Record({ key: Schema.String, value: Schema.Number }) });
export type CurvePoint = typeof CurvePoint.Type;

/**
 * Where a loop's figures per iteration are kept: by the loop's key, like its checkpoints (the state
 * after k iterations is a pure function of (key, k), so its figures are too), so every run that
 * uses the loop, cached or not, can draw its whole curve.
 */
export const curvePath = (storeRoot: string, loopKey: string) => join(storeRoot, "curves", `${loopKey}.json`);

/** Merges `points` into the loop's saved curve (the newer point wins for an iteration run again). */
const saveCurve = async (storeRoot: string, loopKey: string, points: readonly CurvePoint[]): Promise<void> => {
  const path = curvePath(storeRoot, loopKey);
  const byIteration = new Map((await readJson(path, Schema.Array(CurvePoint)) ?? []).map((p) => [p.iteration, p] as const));
  for (const p of points) byIteration.set(p.iteration, p);
  await writeJsonAtomic(path, [...byIteration.values()].sort((a, b) => a.iteration - b.iteration));
};

/** Loop index: which checkpoints exist for a loop key. */
const LoopIndex = Schema.Struct({ checkpoints: Schema.Array(Schema.Number) });

const formatParseError = (node: Pick<PipelineNode, "paramsPath">, error: ParseResult.ParseError): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error);
  const first = issues[0];
  if (first === undefined) return `${absoluteParamPath(node, "")}: invalid value.`;
  const key = (issue: (typeof issues)[number]) => issue.path.map(String).join(".");
  // The alternatives of a union fail at the same path: say what each would accept, once.
  const here = issues.filter((i) => key(i) === key(first));
  // An optional field's "or undefined" alternative and its parent's are noise: the user set a value.
  const others = new Set(issues.map(key).filter((k) => k !== key(first) && !key(first).startsWith(`${k}.`) && k !== "")).size;
  const expected = here.map((i) => /^Expected (.*), actual (.*)$/s.exec(i.message));
  const alternatives = expected.map((m) => m?.[1]).filter((e) => e !== "undefined");
  const message =
    here.length > 1 && expected.every((m) => m !== null)
      ? `expected ${alternatives.join(" or ")}, got ${expected[0]![2]}`
      : first.message;
  const path = absoluteParamPath(node, first.path.map(String).join("."));
  return `${path}: ${message}${others > 0 ? ` (and ${others} more problem${others > 1 ? "s" : ""})` : ""}.`;
};

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** `value` without the (dotted) paths `names`, and what those paths held, keyed by path. */
const splitParams = (value: Record<string, unknown>, names: readonly string[]): { picked: Record<string, unknown>; rest: Record<string, unknown> } => {
  const picked: Record<string, unknown> = {};
  const without = (node: Record<string, unknown>, prefix: string): Record<string, unknown> =>
    Object.fromEntries(
      Object.entries(node).flatMap(([k, v]): [string, unknown][] => {
        const path = prefix === "" ? k : `${prefix}.${k}`;
        if (names.includes(path)) {
          picked[path] = v;
          return [];
        }
        return [[k, isRecord(v) && names.some((n) => n.startsWith(`${path}.`)) ? without(v, path) : v]];
      })
    );
  return { picked, rest: without(value, "") };
};

/**
 * Resolves the layered params and decodes each node's subtree with its stage's Schema. Every
 * problem is a `UsageError` naming the path: unknown preset, unknown `--set` path, bad value.
 */
export const resolveParams = (
  pipeline: Pipeline,
  preset: string | undefined,
  sets: ReadonlyArray<readonly [string, JsonValue]>,
  nodes: ReadonlyArray<PipelineNode> = pipeline.nodes
): Either.Either<{ tree: ParamTree; seed: number; nodes: ResolvedNode[] }, UsageError> => {
  let tree = pipeline.defaults;
  if (preset !== undefined) {
    const layer = pipeline.presets[preset];
    if (layer === undefined) {
      const known = Object.keys(pipeline.presets);
      return Either.left(
        new UsageError({
          message: `Pipeline "${pipeline.name}" has no preset "${preset}"; ${known.length > 0 ? `use one of ${known.join(", ")}` : "it defines none"}.`
        })
      );
    }
    tree = mergeParams(tree, layer);
  }
  for (const [path, value] of sets) {
    const groups = pipeline.nodes.flatMap(paramsPathsOf);
    // Setting a configured entry to null removes it (a scenario, say), and with it the nodes it had.
    const removal = value === null && getPath(tree, path) !== undefined;
    const known = removal || path === "seed" || pipeline.nodes.some((node) => readsParam(node, path));
    if (!known) {
      return Either.left(
        new UsageError({
          message: `--set ${path}: pipeline "${pipeline.name}" has no such param; its param groups are ${[...new Set(groups)].filter((p) => p !== "").join(", ")} and seed.`
        })
      );
    }
    if (path !== "seed" && getPath(tree, path) === undefined && !groups.some((g) => path.startsWith(g + ".") || g === "")) {
      return Either.left(new UsageError({ message: `--set ${path}: no such param in pipeline "${pipeline.name}".` }));
    }
    tree = setPath(tree, path, value);
  }
  const seedValue = tree.seed;
  if (typeof seedValue !== "number" || !Number.isSafeInteger(seedValue) || seedValue < 0) {
    return Either.left(new UsageError({ message: `seed: expected a non-negative integer, got ${JSON.stringify(seedValue)}.` }));
  }
  // A --set path must land on a field some node's Schema knows: decoding with excess properties
  // as errors catches misspelled names inside a group.
  const resolved: ResolvedNode[] = [];
  for (const node of nodes) {
    const raw = rawParamsOf(node, tree) ?? {};
    const decoded = Schema.decodeUnknownEither(node.stage.params as Schema.Schema<unknown, unknown>, { onExcessProperty: "error", errors: "all" })(raw);
    if (Either.isLeft(decoded)) {
      return Either.left(new UsageError({ message: `Bad params for node "${node.id}": ${formatParseError(node, decoded.left)}` }));
    }
    const encoded = Schema.encodeSync(node.stage.params as Schema.Schema<unknown, unknown>)(decoded.right);
    const executionNames = node.stage.executionParams ?? [];
    let keyParams: unknown = encoded;
    let executionParams: Record<string, unknown> = {};
    if (isRecord(encoded) && executionNames.length > 0) {
      // A name may be dotted ("training.rollouts") for a setting inside a group of the node's params.
      const split = splitParams(encoded, executionNames);
      executionParams = split.picked;
      keyParams = split.rest;
    }
    let iterations = 0;
    let checkpointEvery = 0;
    if (node.stage._kind === "loop") {
      const loop = node.stage as LoopStage<unknown, unknown, unknown>;
      iterations = loop.iterations(decoded.right);
      checkpointEvery = loop.checkpointEvery(decoded.right);
      if (!Number.isSafeInteger(iterations) || iterations < 0) {
        return Either.left(new UsageError({ message: `Bad params for node "${node.id}": the iteration count must be a non-negative integer, got ${iterations}.` }));
      }
      if (!Number.isSafeInteger(checkpointEvery) || checkpointEvery < 1) {
        return Either.left(new UsageError({ message: `Bad params for node "${node.id}": the checkpoint interval must be a positive integer, got ${checkpointEvery}.` }));
      }
      if (isRecord(keyParams)) {
        keyParams = Object.fromEntries(Object.entries(keyParams).filter(([k]) => !loop.scheduleParams.includes(k)));
      }
    }
    resolved.push({ node, params: decoded.right, keyParams, executionParams, encodedParams: encoded, iterations, checkpointEvery });
  }
  return Either.right({ tree, seed: seedValue, nodes: resolved });
};

const stageSourcePath = (stage: AnyStage): string =>
  stage.source.startsWith("file:") ? fileURLToPath(stage.source) : stage.source;

const explainReason = (previous: NodeRecord | undefined, code: string, params: string, inputs: Record<string, string>): Reason => {
  if (previous === undefined) return "MISSING";
  if (previous.code !== code) return "CODE";
  if (previous.params !== params) return "PARAMS";
  if (canonicalJson(previous.inputs) !== canonicalJson(inputs)) return "INPUT";
  return "MISSING";
};

/**
 * The params that differ between a node's previous record and now, as "path (old -> new)" with
 * full dotted paths (the node's subtree prefixed), at most five named: what PARAMS means. The
 * stage's execution params are left out.
 */
export const describeParamChange = (previous: string, current: string, paramsPath: ParamsSource, executionParams: readonly string[] = []): string | undefined => {
  const leaves = (value: unknown, path: string, out: Map<string, string>): Map<string, string> => {
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) leaves(v, path === "" ? k : `${path}.${k}`, out);
    } else out.set(path, JSON.stringify(value) ?? "undefined");
    return out;
  };
  let before: unknown;
  let after: unknown;
  try {
    before = JSON.parse(previous);
    after = JSON.parse(current);
  } catch {
    return undefined;
  }
  const a = leaves(before, "", new Map());
  const b = leaves(after, "", new Map());
  const full = (path: string) => (path === "seed" ? "seed" : absoluteParamPath({ paramsPath }, path.replace(/^params\.?/, "")));
  // Execution params (worker counts, ...) never change a result, so they never explain a re-run.
  const execution = (k: string) => executionParams.some((name) => k === `params.${name}` || k.startsWith(`params.${name}.`));
  const changes = [...new Set([...a.keys(), ...b.keys()])]
    .filter((k) => a.get(k) !== b.get(k) && !execution(k))
    .sort()
    .map((k) => `${full(k)} (${a.get(k) ?? "unset"} -> ${b.get(k) ?? "unset"})`);
  if (changes.length === 0) return undefined;
  return `changed ${changes.slice(0, 5).join(", ")}${changes.length > 5 ? ` and ${changes.length - 5} more` : ""}`;
};

/**
 * The data files the nodes read, checked before anything runs, so a wrong path is bad usage
 * (exit 2, nothing written) rather than a failure halfway through. An empty path would resolve to
 * the working directory, so it gets its own message.
 */
const setPathHint = (node: PipelineNode) => `set it with --set ${absoluteParamPath(node, "path")}=FILE`;
const unreadableFile = (node: PipelineNode, path: string) =>
  new UsageError({ message: `Node "${node.id}" reads ${path}, which cannot be read; check the path (${setPathHint(node)}).` });

const checkFileInputs = (nodes: ReadonlyArray<ResolvedNode>) =>
  Effect.forEach(nodes, ({ node, params }) => {
    const stage = node.stage;
    if (stage._kind !== "stage" || stage.fileInputs === undefined) return Effect.void;
    const setHint = setPathHint(node);
    return Effect.forEach(stage.fileInputs(params), (file) =>
      file.trim() === ""
        ? Effect.fail(new UsageError({ message: `Node "${node.id}" needs a data file but its path is empty; ${setHint}.` }))
        : Effect.tryPromise({
            try: async () => {
              await access(resolvePath(file), constants.R_OK);
              if (!(await stat(resolvePath(file))).isFile()) throw new Error("not a file");
            },
            catch: () => unreadableFile(node, resolvePath(file))
          })
    );
  });

/**
 * Runs (or explains) a pipeline. Fails with `UsageError` for bad params and `StageRunError` when a
 * stage fails. An input found corrupt or missing when a stage reads it makes the plan again (at
 * most a few times: each round drops the bad entry, so the next one recomputes it).
 */
export const runPipeline = (request: RunRequest) =>
  runOnce(request).pipe(
    Effect.tapErrorTag("InputLost", (lost) => Effect.logWarning(`${lost.message}; planning again so that it is recomputed.`)),
    Effect.retry({ times: 3, while: (e) => e._tag === "InputLost" }),
    Effect.catchTag("InputLost", (lost) =>
      Effect.fail(new StageRunError({ node: lost.node, stage: lost.node, message: `${lost.message}; run pipeline verify --repair, then run again.` }))
    )
  );

const runOnce = (request: RunRequest) =>
  Effect.scoped(Effect.gen(function* () {
    const store = yield* ArtifactStore;
    const backend = yield* Backend;
    const emit = request.onEvent ?? (() => undefined);
    // The pipeline as these params build it (one node per configured scenario, say).
    const pipeline = yield* Effect.try({
      try: () => PipelineOps.withParams(request.pipeline, request.preset, request.sets ?? []),
      catch: (e) => new UsageError({ message: (e as { message: string }).message })
    });
    const selected = yield* Effect.try({
      try: () => PipelineOps.upTo(pipeline, request.until),
      catch: (e) => new UsageError({ message: (e as { message: string }).message })
    });
    // Every node's params are checked whatever --until selects: a bad value is bad usage even in
    // a node this run skips, and it must stop the run before anything is written.
    const all = yield* resolveParams(pipeline, request.preset, request.sets ?? []);
    const resolved = { ...all, nodes: all.nodes.filter((item) => selected.includes(item.node)) };
    yield* checkFileInputs(all.nodes);
    // A kept step must be a step of some loop body this run may execute: a misspelt name is bad usage.
    if (request.keep !== undefined && request.keep.length > 0) {
      const steps = new Set(resolved.nodes.flatMap(({ node }) => (node.stage._kind === "loop" && node.stage.body !== undefined ? LoopBody.steps(node.stage.body).map((s) => s.id) : [])));
      const unknown = request.keep.filter((step) => !steps.has(step));
      if (unknown.length > 0) {
        return yield* Effect.fail(
          new UsageError({
            message: `--keep ${unknown.join(", ")}: no loop of pipeline "${pipeline.name}" runs such a step; ${steps.size > 0 ? `its loops' steps are ${[...steps].join(", ")}` : "it has no loop with a body of steps"}.`
          })
        );
      }
    }
    const runtime = runtimeFingerprint();
    // The pipeline's services (rollout executor, network backend), built once for the run and
    // released by this run's scope however it ends; an explain runs nothing and builds none.
    const resources = request.resources ?? pipeline.resources;
    const resourceContext: Context.Context<never> =
      resources === undefined || request.explainOnly
        ? Context.empty()
        : ((yield* Layer.build(resources).pipe(
            Effect.mapError((e) => new StageRunError({ node: "(resources)", stage: "(resources)", message: `The run's services could not start: ${e.message}` }))
          )) as Context.Context<never>);
    const results = new Map<string, NodeResult>();
    /** Node ids whose output is unknown during explain (they would run first). */
    const pending = new Set<string>();
    const decodedOutputs = new Map<string, unknown>();
    const refsDir = join(request.storeRoot, "refs", pipeline.name);
    // A node's files for other tools are written by the run, so `show` only reads. A failure to
    // copy them is a warning: the result itself is stored.
    const exportNode = (node: PipelineNode, manifest: Manifest) =>
      writeExports(
        request.storeRoot,
        pipeline.name,
        node.id,
        manifest,
        (node.stage._kind === "loop" ? node.stage.state : node.stage.output).extension,
        request.run === undefined ? undefined : { run: request.run.id, html: provenanceHeader(node, manifest), markdown: provenanceQuote(node, manifest) }
      ).pipe(
        Effect.catchAll((e) => Effect.logWarning(`could not write the export files of node "${node.id}" (${"message" in e ? e.message : String(e)}); pipeline show will not list them`))
      );

    const escapeHtml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    /** Where a page came from: the run, what was asked, the data files read, the code and the time. */
    const provenanceHeader = (node: PipelineNode, manifest: Manifest): string => {
      const run = request.run!;
      const overrides = (request.sets ?? []).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ");
      const files = [...fileVersions.keys()];
      const parts = [
        `pipeline <b>${escapeHtml(pipeline.name)}</b>, node ${escapeHtml(node.id)}`,
        `preset ${escapeHtml(request.preset ?? "(default)")}`,
        `overrides ${escapeHtml(overrides || "none")}`,
        `seed ${resolved.seed}`,
        `data files ${escapeHtml(files.length > 0 ? files.join(", ") : "none (the pipeline's embedded data)")}`,
        `commit ${escapeHtml(run.commit === null ? "unknown (not a git checkout)" : `${run.commit.slice(0, 12)}${run.dirty ? " with uncommitted changes" : ""}`)}`,
        `result ${escapeHtml(manifest.key.slice(0, 12))} computed ${escapeHtml(String(manifest.provenance.endedAt ?? ""))}`,
        `run ${escapeHtml(run.id)} (pipeline runs)`
      ];
      return `<div class="provenance" style="font:12px system-ui,sans-serif;color:#444;background:#f4f4f4;border:1px solid #ddd;padding:6px 10px;margin:0 0 12px">${parts.join(" &middot; ")}</div>`;
    };

    /** The same provenance as a Markdown quote, above an exported document. */
    const provenanceQuote = (node: PipelineNode, manifest: Manifest): string => {
      const run = request.run!;
      const asked = ["pnpm pipeline run", pipeline.name, ...(request.preset === undefined ? [] : ["--preset", request.preset]), ...(request.sets ?? []).map(([k, v]) => `--set ${k}=${JSON.stringify(v)}`)].join(" ");
      const files = [...fileVersions.keys()];
      return [
        `> Written by \`${asked}\` (node ${node.id}, seed ${resolved.seed}, run ${run.id}), data files ${files.length > 0 ? files.join(", ") : "none (the pipeline's embedded data)"},`,
        `> commit ${run.commit === null ? "unknown (not a git checkout)" : `${run.commit.slice(0, 12)}${run.dirty ? " with uncommitted changes" : ""}`}, result ${manifest.key.slice(0, 12)} computed ${String(manifest.provenance.endedAt ?? "")}.`
      ].join("\n");
    };

    const loadOutput = (nodeId: string) =>
      Effect.gen(function* () {
        const cached = decodedOutputs.get(nodeId);
        if (cached !== undefined) return cached;
        const result = results.get(nodeId)!;
        const node = pipeline.nodes.find((n) => n.id === nodeId)!;
        const codec = node.stage._kind === "loop" ? node.stage.state : node.stage.output;
        const bytes = yield* store.getBlob(result.manifest.outputs["value"]!.blob).pipe(
          Effect.catchTags({
            BlobCorrupt: (e) => Effect.fail(new InputLost({ node: nodeId, message: `The stored output of node "${nodeId}" is corrupt (${e.hash.slice(0, 12)}...) and was removed` })),
            BlobMissing: (e) => Effect.fail(new InputLost({ node: nodeId, message: `The stored output of node "${nodeId}" is gone (${e.hash.slice(0, 12)}...)` }))
          })
        );
        const value = yield* Effect.try({ try: () => codec.decode(bytes), catch: (e) => e as TaggedFailure });
        decodedOutputs.set(nodeId, value);
        return value;
      });

    // Every input file is hashed before anything is written, so a file that vanished since the
    // check above still fails the run (exit 2) with the store untouched; the loop below takes the
    // hashes from here.
    const fileVersions = new Map<string, string>();
    for (const item of resolved.nodes) {
      const stage = item.node.stage;
      if (stage._kind !== "stage" || stage.fileInputs === undefined) continue;
      for (const file of stage.fileInputs(item.params)) {
        const path = resolvePath(file);
        if (fileVersions.has(path)) continue;
        fileVersions.set(
          path,
          yield* store.hashFile(path).pipe(
            Effect.mapError(() => unreadableFile(item.node, path))
          )
        );
      }
    }

    const processNode = (item: (typeof resolved.nodes)[number]) =>
      Effect.gen(function* () {
      const { node } = item;
      const stage = node.stage;
      const started = performance.now();
      const fingerprint = fingerprintModule(stageSourcePath(stage));
      const code = fingerprint.hash;
      const paramsCanonical = canonicalJson({ params: item.keyParams, seed: resolved.seed });
      // What the node record compares to explain a re-run: all params, schedule params included,
      // so a loop resumed for more iterations says PARAMS although N is not part of its key.
      const paramsRecord = canonicalJson({ params: item.encodedParams, seed: resolved.seed });
      const inputVersions: Record<string, string> = {};
      let inputsUnknown = false;
      for (const [name, upstream] of Object.entries(node.inputs)) {
        if (pending.has(upstream)) inputsUnknown = true;
        else inputVersions[name] = results.get(upstream)!.dataVersion;
      }
      if (stage._kind === "stage" && stage.fileInputs !== undefined) {
        for (const file of stage.fileInputs(item.params)) {
          const path = resolvePath(file);
          inputVersions[`file:${path}`] = fileVersions.get(path)!;
        }
      }
      // The node name is part of the key because the stage's random stream is derived from it (Rng.forNode):
      // two nodes running the same stage on the same inputs and params draw different numbers.
      const keyParts = { stage: stage.name, node: nodeKeyName(node), code, params: paramsCanonical, inputs: inputVersions, runtime };
      const baseKey = cacheKey(keyParts);
      const isLoop = stage._kind === "loop";
      const checkpointKey = (k: number) => cacheKey({ loop: baseKey, iteration: k });
      const key = isLoop ? checkpointKey(item.iterations) : baseKey;
      const recordPath = join(refsDir, `${node.id}.json`);
      const previous = yield* Effect.promise(() => readJson(recordPath, NodeRecord));

      // The code's own change is known even when the inputs are not: named before the upstream's.
      let codeChange: CodeChange | undefined;
      if (previous !== undefined && previous.code !== code && previous.files !== undefined) {
        codeChange = describeCodeChange({ fileHashes: previous.files, scheme: previous.scheme }, fingerprint);
      }
      const changed = codeChange !== undefined && codeChange.kind !== "scheme" ? { changed: { file: codeChange.file, via: codeChange.via } } : {};
      const withChange = (detail: string | undefined): string | undefined =>
        codeChange === undefined ? detail : detail === undefined ? formatCodeChange(codeChange) : `${formatCodeChange(codeChange)}; ${detail}`;

      if (inputsUnknown) {
        pending.add(node.id);
        const codeChanged = previous !== undefined && previous.code !== code;
        emit({ stage: stage.name, node: node.id, key: "", status: "will-run", reason: codeChanged ? "CODE" : "INPUT", ms: 0, detail: withChange("an upstream node will run first")!, ...changed });
        return;
      }
      request.onKey?.(node.id, key, isLoop ? baseKey : undefined, code);
      const existing = yield* store.readManifest(key);
      if (existing !== undefined) {
        results.set(node.id, { node: node.id, key, dataVersion: existing.dataVersion, manifest: existing });
        const record = { key, code, params: paramsRecord, inputs: inputVersions, files: fingerprint.fileHashes, scheme: fingerprint.scheme };
        if (!request.explainOnly && (previous === undefined || canonicalJson(previous) !== canonicalJson(record))) {
          // Only explains later re-runs: a store that cannot be written (read-only mount) still serves hits.
          yield* Effect.promise(() => writeJsonAtomic(recordPath, record).catch(() => undefined));
        }
        if (!request.explainOnly) yield* exportNode(node, existing);
        emit({ stage: stage.name, node: node.id, key, status: "hit", reason: null, ms: Math.round(performance.now() - started) });
        return;
      }
      const reason = explainReason(previous, code, paramsRecord, inputVersions);
      const paramChange = reason === "PARAMS" && previous !== undefined ? describeParamChange(previous.params, paramsRecord, node.paramsPath, stage.executionParams ?? []) : undefined;
      if (request.explainOnly) {
        pending.add(node.id);
        let detail: string | undefined = paramChange;
        if (isLoop) {
          const index = yield* Effect.promise(() => readJson(join(request.storeRoot, "loops", `${baseKey}.json`), LoopIndex));
          const done = (index?.checkpoints ?? []).filter((k) => k <= item.iterations);
          const last = done.length > 0 ? Math.max(...done) : 0;
          const progress = last > 0 ? `resumes from checkpoint ${last} of ${item.iterations}` : `${item.iterations} iterations from the start`;
          detail = detail === undefined ? progress : `${detail}; ${progress}`;
        }
        detail = withChange(detail);
        emit({ stage: stage.name, node: node.id, key, status: "will-run", reason, ms: 0, ...(detail ? { detail } : {}), ...changed });
        return;
      }

      // Live objects the node materialises (networks, envs) stay in its workspace until it ends.
      const workspace = makeWorkspace();
      const layers = Layer.mergeAll(Rng.forNode(resolved.seed, nodeKeyName(node)), Layer.succeed(Backend, backend), Layer.succeed(Workspace, workspace), Layer.succeedContext(resourceContext));
      // A stage's own services beyond the framework's are the pipeline's resources, in `layers`.
      const inNode = <A>(effect: Effect.Effect<A, TaggedFailure, unknown>) => (effect as Effect.Effect<A, TaggedFailure, StageServices>).pipe(Effect.provide(layers));
      const execute = Effect.gen(function* () {
        // Another process may have finished this key while we waited for the lock.
        const again = yield* store.readManifest(key);
        if (again !== undefined) return { manifest: again, ran: false };
        const inputs: Record<string, unknown> = {};
        for (const [name, upstream] of Object.entries(node.inputs)) inputs[name] = yield* loadOutput(upstream);
        const startedAt = new Date().toISOString();
        const provenance = (extra: Record<string, unknown> = {}) => ({
          params: item.keyParams,
          ...(Object.keys(item.executionParams).length > 0 ? { execution: item.executionParams } : {}),
          seed: resolved.seed,
          inputs: inputVersions,
          codeFingerprint: code,
          codeFiles: fingerprint.fileHashes,
          codeScheme: fingerprint.scheme,
          runtime,
          startedAt,
          endedAt: new Date().toISOString(),
          backend: backend.current() ?? "none",
          ...(backend.network() !== undefined ? { networkBackend: backend.network() } : {}),
          pipeline: pipeline.name,
          ...extra
        });
        const persist = (storeKey: string, value: unknown, codec: { name: string; encode: (v: never) => Uint8Array }, exports: AnyStage["exports"], extra: Record<string, unknown> = {}) =>
          Effect.gen(function* () {
            const bytes = yield* Effect.try({ try: () => codec.encode(value as never), catch: (e) => e as TaggedFailure });
            const blob = yield* store.putBlob(bytes);
            const exported: Record<string, string> = {};
            for (const exp of exports ?? []) {
              const exportBytes = yield* Effect.try({ try: () => exp.encode(value as never), catch: (e) => e as TaggedFailure });
              exported[`${exp.name}.${exp.extension}`] = yield* store.putBlob(exportBytes);
            }
            const outputs = { value: { blob, codec: codec.name, bytes: bytes.byteLength } };
            const manifest: Manifest = {
              version: 1,
              key: storeKey,
              pipeline: pipeline.name,
              node: node.id,
              stage: stage.name,
              outputs,
              dataVersion: dataVersionOf(outputs),
              exports: exported,
              provenance: provenance(extra) as Manifest["provenance"]
            };
            yield* store.writeManifest(manifest);
            return manifest;
          });

        if (!isLoop) {
          const plain = stage as Stage<unknown, unknown, unknown>;
          const value = yield* inNode(plain.run(inputs, item.params)).pipe(Effect.ensuring(workspace.close));
          decodedOutputs.set(node.id, value);
          return { manifest: yield* Effect.uninterruptible(persist(key, value, plain.output, plain.exports)), ran: true };
        }
        const loop = stage as LoopStage<unknown, unknown, unknown>;
        const indexPath = join(request.storeRoot, "loops", `${baseKey}.json`);
        const index = yield* Effect.promise(() => readJson(indexPath, LoopIndex));
        const known = new Set(index?.checkpoints ?? []);
        // Resume from the latest readable checkpoint at or below N (a corrupt one is a miss).
        let state: unknown;
        let from = 0;
        for (const k of [...known].filter((k) => k <= item.iterations).sort((a, b) => b - a)) {
          const manifest = yield* store.readManifest(checkpointKey(k));
          if (manifest === undefined) continue;
          // Hashed as read; a checkpoint found corrupt here (removed by getBlob) falls back to an older one.
          const bytes = yield* store.getBlob(manifest.outputs["value"]!.blob).pipe(
            Effect.catchTags({
              BlobCorrupt: (e) => Effect.as(Effect.logWarning(`Checkpoint ${k} of node "${node.id}" is corrupt (${e.hash.slice(0, 12)}...) and was removed; resuming from an earlier one.`), undefined),
              BlobMissing: () => Effect.succeed(undefined)
            })
          );
          if (bytes === undefined) continue;
          state = yield* Effect.try({ try: () => loop.state.decode(bytes), catch: (e) => e as TaggedFailure });
          from = k;
          break;
        }
        if (from > 0) request.onCheckpoint?.(node.id, from);
        // Live objects the loop built from its state (networks, envs, threads) go however it ends.
        const releaseLive = workspace.close;
        const sink = (step: string, iteration: number, files: ReadonlyArray<{ name: string; extension: string; bytes: Uint8Array }>) =>
          Effect.promise(async () => {
            const dir = keptDir(request.storeRoot, pipeline.name, node.id, step);
            await mkdir(dir, { recursive: true });
            for (const f of files) await writeFile(join(dir, `${String(iteration).padStart(6, "0")}.${f.name}.${f.extension}`), f.bytes);
          });
        let body: PreparedBody<unknown, unknown> | undefined;
        const iterate = (current: unknown, context: LoopContext) =>
          Effect.gen(function* () {
            if (loop.body === undefined) return yield* loop.step!(current, inputs, item.params, context);
            // Set up once per run of the loop (after init or a resume), in the node's services.
            body ??= yield* prepareBody(loop.body, item.params, inputs, { keep: request.keep ?? [], sink });
            return yield* body.iterate(current, context);
          });
        const last = yield* Effect.gen(function* () {
          if (from === 0) state = yield* inNode(loop.init(inputs, item.params));
          const progress = yield* Progress;
          const task = progress.task(`${node.id}`, item.iterations);
          task.advance(from, from > 0 ? `resumed from checkpoint ${from}` : undefined);
          let last: Manifest | undefined;
          const loopStarted = performance.now();
          // The figures of the iterations run since the last checkpoint, saved with it (see `curvePath`).
          let unsavedCurve: CurvePoint[] = [];
          let lastWritten = -1;
          for (let k = from + 1; k <= item.iterations; k++) {
            if (loop.finished?.(state) === true) break;
            let status: string | undefined;
            let metrics: Readonly<Record<string, number>> = {};
            state = yield* inNode(iterate(state, { iteration: k, iterations: item.iterations, status: (text) => (status = text), metrics: (values) => (metrics = values) }));
            task.advance(1, status);
            const finiteMetrics = Object.fromEntries(Object.entries(metrics).filter(([, v]) => Number.isFinite(v)));
            if (Object.keys(finiteMetrics).length > 0) unsavedCurve.push({ iteration: k, metrics: finiteMetrics });
            if (request.onIteration !== undefined) {
              const elapsedSeconds = (performance.now() - loopStarted) / 1000;
              const etaSeconds = (elapsedSeconds / (k - from)) * (item.iterations - k);
              request.onIteration({ event: "iteration", node: node.id, iteration: k, iterations: item.iterations, elapsedSeconds: Number(elapsedSeconds.toFixed(3)), etaSeconds: Number(etaSeconds.toFixed(1)), metrics: finiteMetrics });
            }
            if (k % item.checkpointEvery === 0 || k === item.iterations || loop.finished?.(state) === true) {
              // Uninterruptible: a SIGINT/SIGTERM arriving now waits for the checkpoint to be committed.
              const iteration = k;
              last = yield* Effect.uninterruptible(
                Effect.gen(function* () {
                  const written = yield* persist(checkpointKey(iteration), state, loop.state, iteration === item.iterations ? loop.exports : undefined, { iteration });
                  known.add(iteration);
                  yield* Effect.promise(() => writeJsonAtomic(indexPath, { checkpoints: [...known].sort((a, b) => a - b) }));
                  // Committed once indexed: reported now, inside the region, so an interruption
                  // arriving meanwhile cannot leave the report a checkpoint behind the store.
                  request.onCheckpoint?.(node.id, iteration);
                  if (unsavedCurve.length > 0) {
                    const points = unsavedCurve;
                    unsavedCurve = [];
                    // Figures are a convenience for `compare`: a store that cannot hold them still trains.
                    yield* Effect.promise(() => saveCurve(request.storeRoot, baseKey, points).catch(() => undefined));
                  }
                  return written;
                })
              );
              lastWritten = iteration;
            }
          }
          task.done();
          if (last === undefined || lastWritten !== item.iterations) {
            // N = 0 (the output is the initial state), or a loop that stopped before N: its state
            // is the output for N too, so a later run asking for N is a hit.
            const final = item.iterations;
            last = yield* Effect.uninterruptible(
              Effect.gen(function* () {
                const written = yield* persist(checkpointKey(final), state, loop.state, loop.exports, { iteration: final });
                known.add(final);
                yield* Effect.promise(() => writeJsonAtomic(indexPath, { checkpoints: [...known].sort((a, b) => a - b) }));
                return written;
              })
            );
          }
          return last;
        }).pipe(Effect.ensuring(releaseLive));
        decodedOutputs.set(node.id, state);
        return { manifest: last, ran: true };
      });

      const outcome = yield* store.withLock(isLoop ? baseKey : key, execute, `node "${node.id}" of ${pipeline.name}`).pipe(
        Effect.catchAll((failure: TaggedFailure | { _tag: string; message?: string }): Effect.Effect<never, InputLost | StageRunError> => {
          if (failure instanceof InputLost) return Effect.fail(failure);
          const message = "message" in failure && failure.message ? failure.message : failure._tag;
          emit({ stage: stage.name, node: node.id, key, status: "failed", reason, ms: Math.round(performance.now() - started), detail: withChange(message)!, ...changed });
          return Effect.fail(new StageRunError({ node: node.id, stage: stage.name, message: `Stage "${stage.name}" (node "${node.id}") failed: ${message}` }));
        })
      );
      results.set(node.id, { node: node.id, key, dataVersion: outcome.manifest.dataVersion, manifest: outcome.manifest });
      yield* Effect.promise(() => writeJsonAtomic(recordPath, { key, code, params: paramsRecord, inputs: inputVersions, files: fingerprint.fileHashes, scheme: fingerprint.scheme }));
      yield* exportNode(node, outcome.manifest);
      emit({
        stage: stage.name,
        node: node.id,
        key,
        status: outcome.ran ? "ran" : "hit",
        reason: outcome.ran ? reason : null,
        ms: Math.round(performance.now() - started),
        ...(outcome.ran && codeChange !== undefined ? { detail: withChange(undefined)!, ...changed } : {}),
        ...(outcome.ran && paramChange !== undefined ? { detail: paramChange } : {})
      });
      });

    if (request.explainOnly || resolved.nodes.length < 2) {
      for (const item of resolved.nodes) yield* processNode(item);
    } else {
      // Nodes run as soon as their inputs exist, so independent nodes (the CALSHEQ and BO loops of
      // a calibration) overlap: one trains on this thread while the other's rollouts run on the
      // worker threads. Results never depend on the schedule (each node draws from its own stream).
      // The first failure interrupts the others, which finish their checkpoint first.
      const finished = new Map(resolved.nodes.map((item) => [item.node.id, Deferred.unsafeMake<void>(FiberId.none)]));
      yield* Effect.forEach(
        resolved.nodes,
        (item) =>
          Effect.gen(function* () {
            for (const upstream of Object.values(item.node.inputs)) {
              const ready = finished.get(upstream);
              if (ready !== undefined) yield* Deferred.await(ready);
            }
            yield* processNode(item);
            yield* Deferred.succeed(finished.get(item.node.id)!, undefined);
          }),
        { concurrency: "unbounded", discard: true }
      );
    }
    return { results, seed: resolved.seed, tree: resolved.tree };
  }));
