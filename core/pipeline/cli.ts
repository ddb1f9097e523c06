/**
 * The `pipeline` command (ARCHITECTURE section 3): list, run, explain, show, dag, gc, verify, clean. It takes
 * the registry of pipelines as an argument, so the framework knows nothing about markets; the
 * entry point in `pipelines/` passes the project's registry. Exit codes: 0 success, 1 a stage
 * failed, 2 bad usage or bad params (then nothing is written to the store), 130/143 a run stopped by
 * SIGINT/SIGTERM (after committing or abandoning its current write, releasing its locks and leases;
 * re-running resumes from the last checkpoint). Arguments are parsed by
 * hand rather than with @effect/cli because a cached re-run must answer in well under two seconds
 * and that module alone costs about a second to load here.
 */
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { Cause, Effect, Either, Exit, Fiber, Layer, Logger, LogLevel, Option, Schema } from "effect";
import { cacheKey } from "./canonical.ts";
import { DAG_FORMATS, renderDag, type DagFormat } from "./dag.ts";
import { bodyGraph, describeBody } from "./loop-body.ts";
import { documentParams } from "./params-doc.ts";
import { layerBackend } from "./backend.ts";
import { readExports } from "./exports.ts";
import { parseSet, UsageError, type JsonValue } from "./params.ts";
import { Pipeline as PipelineOps, type Pipeline } from "./pipeline.ts";
import { layerProgress } from "./progress.ts";
import { curvePath, CurvePoint, resolveParams, runPipeline, type IterationEvent, type StageEvent } from "./runner.ts";
import { diffParams, findRun, flattenParams, gitState, listRuns, newRunId, retentionPlan, RunNotFound, runsDir, writeRunRecord, type RunRecord } from "./runs.ts";
import { compareReport, type ComparedRun } from "./compare-report.ts";
import { readJson } from "./json-file.ts";
import { ArtifactStore, DEFAULT_GC_GRACE_MS } from "./store.ts";

export interface PipelineEntry {
  readonly name: string;
  readonly description: string;
  readonly load: () => Promise<Pipeline>;
  /** Optional summary of a node's output for `show --json` (e.g. fit scores). */
  readonly summarize?: (node: string, value: unknown) => unknown;
}

interface ParsedArgs {
  readonly command: string | undefined;
  readonly positional: string[];
  readonly preset: string | undefined;
  readonly sets: Array<readonly [string, JsonValue]>;
  readonly until: string | undefined;
  readonly store: string;
  readonly json: boolean;
  readonly help: boolean;
  readonly repair: boolean;
  readonly graceMs: number | undefined;
  readonly keepRuns: number | undefined;
  readonly format: string | undefined;
  readonly out: string | undefined;
  readonly metrics: string[];
  readonly keep: string[];
}

const USAGE = `Usage: pipeline <command> [options]

Commands:
  list                          pipelines with one-line descriptions
  run <name> [options]          run a pipeline; prints hit or ran (and why) per stage
  explain <name> [options]      what would run and why, without running
  show <name> [node] [--json]   artifact files and lineage of the last run
  params <name> [--preset P]    every param --set takes: path, type, default (and preset) value,
                                meaning (--json: one object per param)
  dag <name> [--format F]       the pipeline's DAG with loop bodies: Mermaid (default), Graphviz DOT
                                (F = dot) or a self-contained SVG (F = svg)
  runs [name] [--json]          the run log, newest first: params asked for, commit, outcome, time
  diff <run> <run> [--json]     two runs' differing params and summary figures side by side
  compare <run>... [--out FILE] an HTML page overlaying the runs' curves, with their params and
                                summaries (runs: an id, a unique prefix, or @1 = newest, @2, ...)
  gc [--grace SECONDS] [--keep-runs N]
                                remove blobs no manifest or running run references, older than
                                the grace period (default ${DEFAULT_GC_GRACE_MS / 60_000} minutes); --keep-runs
                                first drops each pipeline's runs beyond the newest N and forgets
                                the entries only they used (each node's current result stays)
  verify [--repair]             hash every blob; --repair drops corrupt blobs and the entries
                                that reference them, so the next run recomputes them
  clean <name> [options]        forget the entries the pipeline's nodes resolve to with these
                                params (loop checkpoints included), unless another pipeline's
                                last run uses them

Options:
  --preset P        params preset (quick, paper, ... as the pipeline defines)
  --set k=v         override one param (repeatable), e.g. --set ecn.data.dt=2
  --until NODE      run only NODE and what it needs
  --keep STEP       keep every iteration's output of a loop-body step (e.g. rollouts) as
                    Parquet in <store>/kept/<pipeline>/<node>/<step>/ (repeatable; run only)
  --store DIR       artifact store root (default: artifacts)
  --json            one JSON object per stage event on stdout, and per loop iteration
                    ({"event":"iteration","node",...,"etaSeconds","metrics"})
  --format F        dag output: mermaid or dot
  --out FILE        where compare writes its page (default: <store>/exports/compare/...html)
  --metric NAME     a curve compare draws (repeatable; default: up to 6 per loop)
`;

const parseArgs = (argv: ReadonlyArray<string>): ParsedArgs => {
  const positional: string[] = [];
  const sets: Array<readonly [string, JsonValue]> = [];
  const keep: string[] = [];
  let preset: string | undefined;
  let until: string | undefined;
  let store = "artifacts";
  let json = false;
  let help = false;
  let repair = false;
  let graceMs: number | undefined;
  let keepRuns: number | undefined;
  let format: string | undefined;
  let outFile: string | undefined;
  const metrics: string[] = [];
  const valueOf = (flag: string, i: number): string => {
    const value = argv[i + 1];
    if (value === undefined || value.startsWith("--")) throw new UsageError({ message: `${flag} needs a value.` });
    return value;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith("--") && arg.includes("=") && !arg.startsWith("--set=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    const take = (): string => {
      if (inline !== undefined) return inline;
      const value = valueOf(flag, i);
      i++;
      return value;
    };
    switch (flag) {
      case "--preset":
        preset = take();
        break;
      case "--set":
        sets.push(parseSet(take()));
        break;
      case "--keep":
        keep.push(take());
        break;
      case "--until":
        until = take();
        break;
      case "--store":
        store = take();
        break;
      case "--json":
        json = true;
        break;
      case "--format":
        format = take();
        break;
      case "--out":
        outFile = take();
        break;
      case "--metric":
        metrics.push(take());
        break;
      case "--repair":
        repair = true;
        break;
      case "--keep-runs": {
        const text = take();
        const n = Number(text);
        if (!Number.isSafeInteger(n) || n < 0) throw new UsageError({ message: `--keep-runs needs a whole number of runs (0 or more), got "${text}".` });
        keepRuns = n;
        break;
      }
      case "--grace": {
        const text = take();
        const seconds = Number(text);
        if (text.trim() === "" || !Number.isFinite(seconds) || seconds < 0) throw new UsageError({ message: `--grace needs a number of seconds (0 or more), got "${text}".` });
        graceMs = seconds * 1000;
        break;
      }
      case "--help":
      case "-h":
        help = true;
        break;
      default:
        if (arg.startsWith("--set=")) sets.push(parseSet(arg.slice(6)));
        else if (arg.startsWith("-")) throw new UsageError({ message: `Unknown option ${arg}; see pipeline --help.` });
        else positional.push(arg);
    }
  }
  return { command: positional.shift(), positional, preset, sets, until, store, json, help, repair, graceMs, keepRuns, format, out: outFile, metrics, keep };
};

const pad = (text: string, width: number) => (text.length >= width ? text : text + " ".repeat(width - text.length));

const formatEvent = (event: StageEvent): string => {
  const status = event.status === "will-run" ? "run" : event.status;
  const why = event.reason ?? "";
  const time = event.status === "ran" || event.status === "failed" ? ` ${(event.ms / 1000).toFixed(1)}s` : "";
  const stage = event.stage !== event.node ? ` (${event.stage})` : "";
  return `  ${pad(status, 6)} ${pad(event.node + stage, 44)} ${pad(why, 8)}${time}${event.detail ? `  ${event.detail}` : ""}`;
};

/** Warnings (a corrupt cache entry, a stale lock) go to stderr, never into `--json` output. */
const stderrLogger = Logger.replace(
  Logger.defaultLogger,
  Logger.make(({ logLevel, message }) => {
    if (LogLevel.lessThan(logLevel, LogLevel.Info)) return;
    const text = Array.isArray(message) ? message.map(String).join(" ") : String(message);
    process.stderr.write(`${logLevel.label.toLowerCase()}: ${text}\n`);
  })
);

/** One sentence for an error that escaped as a defect (an fs call rejected, ...): its first line, no stack. */
const describeDefect = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause);
  const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : undefined;
  const text = (error instanceof Error ? error.message : String(error)).split("\n")[0]!;
  if (code === "EROFS" || code === "EACCES" || code === "EPERM") return `${text}; the store cannot be written here (read-only or not yours): use a writable --store for this command.`;
  if (code === "ENOSPC" || code === "EDQUOT") return `${text}; the disk is full: free space (pipeline gc) and try again.`;
  return text;
};

/**
 * A run's summary figures (its pipeline's `summarize` of each node it ran or hit, numeric leaves
 * only, by "node.path") and its loops' curves, read from the store by the run's cache keys.
 */
const comparedRun = (run: RunRecord, registry: ReadonlyArray<PipelineEntry>, storeRoot: string) =>
  Effect.gen(function* () {
    const store = yield* ArtifactStore;
    const entry = registry.find((p) => p.name === run.pipeline);
    const loaded = entry === undefined ? undefined : yield* Effect.promise(() => loadShaped(entry, { preset: run.preset ?? undefined, sets: run.sets as ReadonlyArray<readonly [string, JsonValue]> /* parsed from the run's JSON record */ }));
    const pipeline = typeof loaded === "string" ? undefined : loaded;
    const summary = new Map<string, number>();
    const curves = new Map<string, readonly CurvePoint[]>();
    for (const node of run.nodes) {
      if (node.loopKey !== undefined) {
        const curve = yield* Effect.promise(() => readJson(curvePath(storeRoot, node.loopKey!), Schema.Array(CurvePoint)));
        if (curve !== undefined) curves.set(node.node, curve);
      }
      const stage = pipeline?.nodes.find((n) => n.id === node.node)?.stage;
      if (entry?.summarize === undefined || stage === undefined || node.key === "") continue;
      const manifest = yield* store.readManifest(node.key, "none");
      if (manifest === undefined) continue;
      const bytes = yield* store.getBlob(manifest.outputs["value"]!.blob).pipe(Effect.orElseSucceed(() => undefined));
      if (bytes === undefined) continue;
      const codec = stage._kind === "loop" ? stage.state : stage.output;
      const value = yield* Effect.try(() => codec.decode(bytes)).pipe(Effect.orElseSucceed(() => undefined));
      const summarized = value === undefined ? undefined : entry.summarize(node.node, value);
      if (summarized === undefined) continue;
      for (const [path, text] of flattenParams(summarized, node.node)) {
        const x = Number(text);
        if (text !== "null" && Number.isFinite(x)) summary.set(path, x);
      }
    }
    return { run, summary, curves } satisfies ComparedRun;
  });

/** Runs the CLI and returns the process exit code. */
/** The cache keys each node's last run points at (`refs/<pipeline>/<node>.json`), of every pipeline but `except`. */
const currentResultKeys = async (storeRoot: string, except?: string): Promise<Set<string>> => {
  const keys = new Set<string>();
  const refsRoot = join(storeRoot, "refs");
  for (const pipeline of await readdir(refsRoot).catch(() => [] as string[])) {
    if (pipeline === except) continue;
    for (const file of await readdir(join(refsRoot, pipeline)).catch(() => [] as string[])) {
      const ref = await readJson(join(refsRoot, pipeline, file), Schema.Struct({ key: Schema.String }));
      if (ref !== undefined) keys.add(ref.key);
    }
  }
  return keys;
};

/**
 * A pipeline as its preset and `--set` overrides shape it (see `Pipeline.withParams`), or the
 * sentence saying why it cannot be built from them.
 */
const loadShaped = async (entry: PipelineEntry, args: { readonly preset: string | undefined; readonly sets: ReadonlyArray<readonly [string, JsonValue]> }): Promise<Pipeline | string> => {
  const pipeline = await entry.load();
  try {
    return PipelineOps.withParams(pipeline, args.preset, args.sets);
  } catch (error) {
    return error instanceof Error || (typeof error === "object" && error !== null && "message" in error) ? String((error as { message: unknown }).message) : String(error);
  }
};

export const main = async (argv: ReadonlyArray<string>, registry: ReadonlyArray<PipelineEntry>): Promise<number> => {
  // A reader that stops early (`show | head`) closes the pipe: print nothing more and end as a
  // success, as Unix tools do. A run carries on silently instead, so its work is finished and
  // cached rather than cut between a blob and its manifest.
  let stdoutOpen = true;
  let stderrOpen = true;
  let quitOnClosedStdout = true;
  const onPipeError = (stream: "stdout" | "stderr") => (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE" && e.code !== "ERR_STREAM_DESTROYED") throw e;
    if (stream === "stderr") stderrOpen = false;
    else {
      stdoutOpen = false;
      if (quitOnClosedStdout) process.exit(0);
    }
  };
  process.stdout.on("error", onPipeError("stdout"));
  process.stderr.on("error", onPipeError("stderr"));
  const out = (line: string) => void (stdoutOpen && process.stdout.write(line + "\n"));
  const err = (line: string) => void (stderrOpen && process.stderr.write(line + "\n"));
  let args: ParsedArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    err(`error: ${(e as UsageError).message}`);
    return 2;
  }
  quitOnClosedStdout = args.command !== "run";
  if (args.help || args.command === undefined) {
    (args.help ? out : err)(USAGE);
    return args.help ? 0 : 2;
  }
  const storeRoot = resolve(args.store);
  const findEntry = (name: string | undefined): PipelineEntry | string => {
    if (name === undefined) return `${args.command} needs a pipeline name; see pipeline list.`;
    const entry = registry.find((p) => p.name === name);
    return entry ?? `Unknown pipeline "${name}"; known pipelines: ${registry.map((p) => p.name).join(", ")}.`;
  };
  /** The named pipeline with --preset and --set applied, and its registry entry; or the sentence saying why it cannot be. */
  const shapedPipeline = async (name: string | undefined): Promise<{ readonly entry: PipelineEntry; readonly pipeline: Pipeline } | string> => {
    const entry = findEntry(name);
    if (typeof entry === "string") return entry;
    const pipeline = await loadShaped(entry, args);
    return typeof pipeline === "string" ? pipeline : { entry, pipeline };
  };
  const storeLayer = Layer.merge(ArtifactStore.layerFs(storeRoot), stderrLogger);

  switch (args.command) {
    case "list": {
      const width = Math.max(...registry.map((p) => p.name.length));
      for (const p of registry) out(args.json ? JSON.stringify({ name: p.name, description: p.description }) : `${pad(p.name, width + 2)}${p.description}`);
      return 0;
    }
    case "params": {
      const loaded = await shapedPipeline(args.positional[0]);
      if (typeof loaded === "string") {
        err(`error: ${loaded}`);
        return 2;
      }
      const shaped = loaded.pipeline;
      const documented = documentParams(shaped, args.preset);
      if (Either.isLeft(documented)) {
        err(`error: ${documented.left.message}`);
        return 2;
      }
      if (args.json) {
        for (const d of documented.right) out(JSON.stringify(d));
        return 0;
      }
      for (const d of documented.right) {
        const values = `default ${JSON.stringify(d.value)}${args.preset !== undefined ? `, ${args.preset} ${JSON.stringify(d.presetValue)}` : ""}`;
        out(`${d.path}  (${d.type}; ${values})`);
        if (d.meaning !== null) out(`    ${d.meaning}`);
      }
      return 0;
    }
    case "dag": {
      const format = args.format ?? "mermaid";
      if (!DAG_FORMATS.includes(format as DagFormat)) {
        err(`error: --format ${format} is not a DAG format; use ${DAG_FORMATS.join(" or ")}.`);
        return 2;
      }
      const loaded = await shapedPipeline(args.positional[0]);
      if (typeof loaded === "string") {
        err(`error: ${loaded}`);
        return 2;
      }
      const shaped = loaded.pipeline;
      // Each loop's body is drawn beside it: the steps one iteration runs.
      out(renderDag(shaped, format as DagFormat, (node) => (node.stage._kind === "loop" && node.stage.body !== undefined ? bodyGraph(node.stage.body) : undefined)).trimEnd());
      return 0;
    }
    case "run":
    case "explain": {
      const loaded = await shapedPipeline(args.positional[0]);
      if (typeof loaded === "string") {
        err(`error: ${loaded}`);
        return 2;
      }
      const pipeline = loaded.pipeline;
      const explainOnly = args.command === "explain";
      if (!args.json) out(`${explainOnly ? "explain" : "run"} ${pipeline.name}${args.preset ? ` --preset ${args.preset}` : ""} (store ${args.store})`);
      const started = performance.now();
      const startedAt = new Date();
      const runId = newRunId(startedAt);
      const git = explainOnly ? { commit: null, dirty: null } : gitState(process.cwd());
      // What the run log records of each node (see runs.ts).
      const nodeEvents = new Map<string, StageEvent>();
      const nodeKeys = new Map<string, { loopKey: string | undefined; code: string }>();
      const program = runPipeline({
        pipeline,
        preset: args.preset,
        sets: args.sets,
        until: args.until,
        storeRoot,
        explainOnly,
        ...(args.keep.length > 0 ? { keep: args.keep } : {}),
        run: { id: runId, ...git },
        onEvent: (event) => {
          nodeEvents.set(event.node, event);
          // An explain shows what one iteration of each loop runs: its body's steps.
          const stage = pipeline.nodes.find((n) => n.id === event.node)?.stage;
          const body = explainOnly && stage?._kind === "loop" && stage.body !== undefined ? describeBody(stage.body) : undefined;
          if (args.json) out(JSON.stringify(body === undefined ? event : { ...event, body }));
          else out([formatEvent(event), ...(body === undefined ? [] : ["           each iteration:", ...body.map((line) => `             ${line}`)])].join("\n"));
        },
        onKey: (node, _key, loopKey, code) => void nodeKeys.set(node, { loopKey, code }),
        onCheckpoint: (node, iteration) => void checkpointed.set(node, iteration),
        ...(args.json ? { onIteration: (event: IterationEvent) => out(JSON.stringify(event)) } : {})
      }).pipe(Effect.provide(Layer.mergeAll(storeLayer, layerBackend(), layerProgress(args.json))));
      // SIGINT/SIGTERM interrupt the run: the checkpoint being written is committed first
      // (uninterruptible), then locks, leases and workers are released by their finalizers. A
      // second signal exits at once (anything left behind is then recognised as stale).
      // Per loop node: loops whose inputs are ready run side by side.
      const checkpointed = new Map<string, number>();
      let signalled: NodeJS.Signals | undefined;
      const fiber = Effect.runFork(program);
      const onSignal = (signal: NodeJS.Signals) => {
        if (signalled !== undefined) process.exit(signal === "SIGINT" ? 130 : 143);
        signalled = signal;
        Effect.runFork(Fiber.interrupt(fiber));
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      const exit = await Effect.runPromise(Fiber.await(fiber));
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      let logged: string | undefined;
      const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none();
      const usageError = Option.isSome(failure) && (failure.value instanceof UsageError || (failure.value as { _tag?: string })._tag === "UsageError");
      // Every run past its params check is logged (a usage error writes nothing, the log included).
      if (!explainOnly && !usageError) {
        const resolved = Either.getOrUndefined(resolveParams(pipeline, args.preset, args.sets));
        const outcome = signalled !== undefined && Exit.isFailure(exit) ? "interrupted" : Exit.isSuccess(exit) ? "succeeded" : "failed";
        const record: RunRecord = {
          version: 1,
          id: runId,
          pipeline: pipeline.name,
          preset: args.preset ?? null,
          sets: args.sets.map(([k, v]) => [k, v] as const),
          until: args.until ?? null,
          params: (resolved?.tree ?? {}) as Record<string, unknown>,
          seed: resolved?.seed ?? 0,
          ...git,
          startedAt: startedAt.toISOString(),
          endedAt: new Date().toISOString(),
          seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
          outcome,
          ...(Option.isSome(failure) ? { error: String((failure.value as { message?: string }).message ?? failure.value) } : {}),
          nodes: [...nodeEvents.values()].map((e) => {
            const keys = nodeKeys.get(e.node);
            return {
              node: e.node,
              stage: e.stage,
              status: e.status,
              reason: e.reason,
              key: e.key,
              ...(keys?.loopKey !== undefined ? { loopKey: keys.loopKey } : {}),
              ...(keys !== undefined ? { code: keys.code } : {}),
              ms: e.ms
            };
          })
        };
        // The log is a convenience: a store that cannot take it still ran (read-only stores serve hits).
        await writeRunRecord(storeRoot, record).catch(() => undefined);
        logged = record.id;
      }
      // Stopped by the signal (or failing because of it, e.g. a worker torn down): 130 / 143 either way.
      if (signalled !== undefined && Exit.isFailure(exit)) {
        const saved = [...checkpointed.values()];
        err(
          saved.length <= 1
            ? `interrupted; ${saved[0] ?? 0} iterations checkpointed, re-run to resume`
            : `interrupted; ${[...checkpointed].map(([node, k]) => `${node} ${k}`).join(", ")} iterations checkpointed, re-run to resume`
        );
        return signalled === "SIGINT" ? 130 : 143;
      }
      if (Exit.isSuccess(exit)) {
        if (!args.json) out(`done in ${((performance.now() - started) / 1000).toFixed(2)}s${logged !== undefined ? ` (run ${logged})` : ""}`);
        return 0;
      }
      if (Option.isSome(failure)) {
        const error = failure.value as { _tag?: string; message?: string };
        err(`error: ${error.message ?? String(error)}`);
        return usageError ? 2 : 1;
      }
      err(`error: ${describeDefect(exit.cause)}`);
      return 1;
    }
    case "runs": {
      const runs = await listRuns(storeRoot, args.positional[0]);
      if (args.json) {
        for (const run of runs) out(JSON.stringify(run));
        return 0;
      }
      if (runs.length === 0) {
        out(`no runs${args.positional[0] ? ` of ${args.positional[0]}` : ""} in ${args.store}`);
        return 0;
      }
      out(`${pad("run", 22)}${pad("pipeline", 22)}${pad("outcome", 12)}${pad("time", 10)}${pad("commit", 12)}preset and overrides`);
      for (const run of runs) {
        const asked = [run.preset !== null ? `--preset ${run.preset}` : "", ...run.sets.map(([k, v]) => `${k}=${JSON.stringify(v)}`)].filter((x) => x !== "").join(" ");
        const commit = run.commit === null ? "-" : `${run.commit.slice(0, 8)}${run.dirty ? "+" : ""}`;
        out(`${pad(run.id, 22)}${pad(run.pipeline, 22)}${pad(run.outcome, 12)}${pad(`${run.seconds.toFixed(1)}s`, 10)}${pad(commit, 12)}${asked || "(defaults)"}`);
      }
      return 0;
    }
    case "diff":
    case "compare": {
      const refs = args.positional;
      if (args.command === "diff" ? refs.length !== 2 : refs.length < 1) {
        err(`error: ${args.command === "diff" ? "diff takes two runs" : "compare takes one or more runs"} (an id, a unique prefix, or @1 for the newest); see pipeline runs.`);
        return 2;
      }
      const all = await listRuns(storeRoot);
      let runs: RunRecord[];
      try {
        runs = refs.map((ref) => findRun(all, ref));
      } catch (error) {
        if (error instanceof RunNotFound) {
          err(`error: ${error.message}`);
          return 2;
        }
        throw error;
      }
      const compared = await Effect.runPromise(
        Effect.forEach(runs, (run) => comparedRun(run, registry, storeRoot)).pipe(Effect.provide(storeLayer))
      );
      if (args.command === "compare") {
        const html = await compareReport(compared, { metrics: args.metrics });
        const path = resolve(args.out ?? join(storeRoot, "exports", "compare", `${runs.map((r) => r.id).join("_vs_")}.html`));
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, html);
        out(path);
        return 0;
      }
      const a = compared[0]!;
      const b = compared[1]!;
      const params = diffParams(a.run, b.run);
      const figures = [...new Set([...a.summary.keys(), ...b.summary.keys()])].sort().map((k) => ({ figure: k, a: a.summary.get(k) ?? null, b: b.summary.get(k) ?? null }));
      if (args.json) {
        out(JSON.stringify({ runs: [a.run.id, b.run.id], params, figures }));
        return 0;
      }
      out(`diff ${a.run.id} (${a.run.pipeline}) .. ${b.run.id} (${b.run.pipeline})`);
      out(params.length === 0 ? "params: the same" : "params:");
      for (const d of params) out(`  ${pad(d.path, 44)} ${pad(d.a, 18)} ${d.b}`);
      out(figures.length === 0 ? "summary figures: none" : "summary figures:");
      const show = (x: number | null) => (x === null ? "-" : Number.isInteger(x) ? String(x) : x.toPrecision(6));
      for (const f of figures) out(`  ${pad(f.figure, 44)} ${pad(show(f.a), 18)} ${show(f.b)}${f.a !== null && f.b !== null && f.a !== f.b ? `  (${f.b - f.a > 0 ? "+" : ""}${(f.b - f.a).toPrecision(3)})` : ""}`);
      return 0;
    }
    case "show": {
      const loaded = await shapedPipeline(args.positional[0]);
      if (typeof loaded === "string") {
        err(`error: ${loaded}`);
        return 2;
      }
      const pipeline = loaded.pipeline;
      const wanted = args.positional[1];
      const nodes = pipeline.nodes.filter((n) => wanted === undefined || n.id === wanted || n.stage.name === wanted);
      if (nodes.length === 0) {
        err(`error: pipeline "${pipeline.name}" has no node "${wanted}"; its nodes are ${pipeline.nodes.map((n) => n.id).join(", ")}.`);
        return 2;
      }
      const program = Effect.gen(function* () {
        const store = yield* ArtifactStore;
        const rows: Array<Record<string, unknown>> = [];
        for (const node of nodes) {
          const recordPath = join(storeRoot, "refs", pipeline.name, `${node.id}.json`);
          const record = yield* Effect.promise(() => readFile(recordPath, "utf8").then((t) => JSON.parse(t) as { key: string }).catch(() => undefined));
          // Decoded only: the bytes exported below are hashed as they are read, and show repairs nothing.
          const manifest = record ? yield* store.readManifest(record.key, "none") : undefined;
          if (manifest === undefined) {
            rows.push({ node: node.id, stage: node.stage.name, status: "not run" });
            continue;
          }
          // Read only: the files were written by the run that made this result.
          const codec = node.stage._kind === "loop" ? node.stage.state : node.stage.output;
          const files = yield* Effect.promise(() => readExports(storeRoot, pipeline.name, node.id, manifest));
          // Every blob of the result is hashed; a corrupt or missing one stops show with one sentence.
          const verifyBlob = (hash: string, name: string) =>
            store.getBlob(hash, { keepCorrupt: true }).pipe(
              Effect.mapError((e) =>
                e._tag === "BlobCorrupt" || e._tag === "BlobMissing"
                  ? new UsageError({ message: `The stored ${name} of node "${node.id}" is ${e._tag === "BlobCorrupt" ? "corrupt" : "missing"} (blob ${hash.slice(0, 12)}...); run pipeline verify --repair to drop it, then run the pipeline again to recompute it.` })
                  : e
              )
            );
          const valueBytes = yield* verifyBlob(manifest.outputs["value"]!.blob, `value.${codec.extension}`);
          for (const [name, blob] of Object.entries(manifest.exports ?? {})) yield* verifyBlob(blob, name);
          let summary: unknown;
          if (loaded.entry.summarize !== undefined) summary = loaded.entry.summarize(node.id, codec.decode(valueBytes));
          rows.push({
            node: node.id,
            stage: node.stage.name,
            key: manifest.key,
            dataVersion: manifest.dataVersion,
            ...(files !== undefined ? { files } : { missing: `export files not written; run pipeline run ${pipeline.name} to write them` }),
            inputs: manifest.provenance.inputs,
            provenance: manifest.provenance,
            ...(summary !== undefined ? { summary } : {})
          });
        }
        return rows;
      }).pipe(Effect.provide(storeLayer));
      const shown = await Effect.runPromiseExit(program);
      if (Exit.isFailure(shown)) {
        const failure = Cause.failureOption(shown.cause);
        err(`error: ${Option.isSome(failure) ? failure.value.message : describeDefect(shown.cause)}`);
        return 1;
      }
      const rows = shown.value;
      if (args.json) out(JSON.stringify({ pipeline: pipeline.name, nodes: rows }));
      else {
        for (const row of rows) {
          out(`${row.node} (${row.stage})${row.status ? ": " + row.status : ""}`);
          if (row.files) for (const [name, file] of Object.entries(row.files as Record<string, string>)) out(`  ${pad(name, 20)} ${file}`);
          if (row.missing) out(`  ${row.missing}`);
          if (row.inputs) for (const [name, version] of Object.entries(row.inputs as Record<string, string>)) out(`  input ${pad(name, 14)} ${version.slice(0, 12)}`);
          if (row.summary !== undefined) out(`  summary ${JSON.stringify(row.summary)}`);
        }
      }
      return 0;
    }
    case "gc": {
      let retained = "";
      if (args.keepRuns !== undefined) {
        // Each node's current result stays whatever the policy says: it is what the next run hits.
        const plan = retentionPlan(await listRuns(storeRoot), args.keepRuns, await currentResultKeys(storeRoot));
        const forgot = await Effect.runPromiseExit(
          Effect.flatMap(ArtifactStore, (st) => Effect.forEach(plan.forgottenKeys, (key) => st.deleteManifest(key))).pipe(Effect.provide(storeLayer))
        );
        if (Exit.isFailure(forgot)) {
          const failure = Cause.failureOption(forgot.cause);
          err(`error: ${Option.isSome(failure) ? failure.value.message : describeDefect(forgot.cause)}`);
          return 1;
        }
        for (const loopKey of plan.forgottenLoops) await rm(curvePath(storeRoot, loopKey), { force: true });
        for (const run of plan.dropped) await rm(join(runsDir(storeRoot), `${run.id}.json`), { force: true });
        retained = `dropped ${plan.dropped.length} runs beyond the newest ${args.keepRuns} per pipeline, forgot ${plan.forgottenKeys.length} entries only they used; `;
        if (args.json) out(JSON.stringify({ droppedRuns: plan.dropped.map((r) => r.id), forgottenEntries: plan.forgottenKeys.length }));
      }
      const gc = await Effect.runPromiseExit(Effect.flatMap(ArtifactStore, (st) => st.gc(args.graceMs === undefined ? {} : { graceMs: args.graceMs })).pipe(Effect.provide(storeLayer)));
      if (Exit.isFailure(gc)) {
        const failure = Cause.failureOption(gc.cause);
        err(`error: ${Option.isSome(failure) ? failure.value.message : describeDefect(gc.cause)}`);
        return 1;
      }
      const result = gc.value;
      out(args.json ? JSON.stringify(result) : `${retained}removed ${result.removedBlobs} blobs, freed ${(result.freedBytes / 1e6).toFixed(1)} MB`);
      return 0;
    }
    case "verify": {
      const verified = await Effect.runPromiseExit(Effect.flatMap(ArtifactStore, (st) => st.verify({ repair: args.repair })).pipe(Effect.provide(storeLayer)));
      if (Exit.isFailure(verified)) {
        const failure = Cause.failureOption(verified.cause);
        err(`error: ${Option.isSome(failure) ? failure.value.message : describeDefect(verified.cause)}`);
        return 1;
      }
      const result = verified.value;
      const problems = result.corruptBlobs.length + result.brokenEntries.length;
      if (args.json) out(JSON.stringify(result));
      else {
        out(`checked ${result.blobs} blobs (${(result.bytes / 1e6).toFixed(1)} MB): ${result.corruptBlobs.length} corrupt, ${result.brokenEntries.length} cache entries reference a corrupt or missing blob`);
        for (const hash of result.corruptBlobs) out(`  corrupt blob ${hash}`);
        for (const key of result.brokenEntries) out(`  broken entry ${key}`);
        if (problems > 0) out(result.repaired ? "repaired: removed them; the next run recomputes those entries" : "run pipeline verify --repair to remove them, so the next run recomputes those entries");
      }
      return problems > 0 && !result.repaired ? 1 : 0;
    }
    case "clean": {
      const loaded = await shapedPipeline(args.positional[0]);
      if (typeof loaded === "string") {
        err(`error: ${loaded}`);
        return 2;
      }
      const pipeline = loaded.pipeline;
      // The entries this pipeline's nodes resolve to today: the plan of an explain with these params.
      const resolvedKeys = new Set<string>();
      const loops = new Map<string, string>(); // loop key -> node id
      const program = Effect.gen(function* () {
        yield* runPipeline({
          pipeline,
          preset: args.preset,
          sets: args.sets,
          storeRoot,
          explainOnly: true,
          onKey: (node, key, loopKey) => {
            resolvedKeys.add(key);
            if (loopKey !== undefined) loops.set(loopKey, node);
          }
        });
        const store = yield* ArtifactStore;
        const manifests = yield* store.listManifests();
        // Every checkpoint of a resolved loop, whatever iteration count it was made for.
        let checkpoints = 0;
        for (const m of manifests) {
          const iteration = m.provenance["iteration"];
          if (typeof iteration !== "number") continue;
          for (const [loopKey, node] of loops) {
            if (m.node === node && m.key === cacheKey({ loop: loopKey, iteration }) && !resolvedKeys.has(m.key)) {
              resolvedKeys.add(m.key);
              checkpoints++;
            }
          }
        }
        // Entries another pipeline's last run points at stay (their blobs too).
        const held = yield* Effect.promise(() => currentResultKeys(storeRoot, pipeline.name));
        let forgotten = 0;
        let kept = 0;
        for (const key of resolvedKeys) {
          if (held.has(key)) kept++;
          else if (yield* store.deleteManifest(key)) forgotten++;
        }
        yield* Effect.promise(() => rm(join(storeRoot, "refs", pipeline.name), { recursive: true, force: true }));
        yield* Effect.promise(() => rm(join(storeRoot, "exports", pipeline.name), { recursive: true, force: true }));
        for (const loopKey of loops.keys()) yield* Effect.promise(() => rm(join(storeRoot, "loops", `${loopKey}.json`), { force: true }));
        return { forgotten, checkpoints, kept };
      }).pipe(Effect.provide(Layer.mergeAll(storeLayer, layerBackend(), layerProgress(true))));
      const cleaned = await Effect.runPromiseExit(program);
      if (Exit.isFailure(cleaned)) {
        const failure = Cause.failureOption(cleaned.cause);
        if (Option.isSome(failure)) {
          const error = failure.value as { _tag?: string; message?: string };
          err(`error: ${error.message ?? String(error)}`);
          return error._tag === "UsageError" ? 2 : 1;
        }
        err(`error: ${describeDefect(cleaned.cause)}`);
        return 1;
      }
      const { forgotten, checkpoints, kept } = cleaned.value;
      const summary = { pipeline: pipeline.name, forgotten, checkpoints, kept };
      out(
        args.json
          ? JSON.stringify(summary)
          : `forgot ${forgotten} cache entries of ${pipeline.name} (loop checkpoints included: ${checkpoints})${kept > 0 ? `; kept ${kept} that another pipeline's last run uses` : ""}; run pipeline gc to free their blobs`
      );
      return 0;
    }
    default:
      err(`error: Unknown command "${args.command}"; see pipeline --help.`);
      return 2;
  }
};

