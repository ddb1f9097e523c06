/**
 * The `pipeline` command (ARCHITECTURE section 3): list, run, explain, show, gc, clean. It takes
 * the registry of pipelines as an argument, so the framework knows nothing about markets; the
 * entry point in `pipelines/` passes the project's registry. Exit codes: 0 success, 1 a stage
 * failed, 2 bad usage or bad params (then nothing is written to the store). Arguments are parsed by
 * hand rather than with @effect/cli because a cached re-run must answer in well under two seconds
 * and that module alone costs about a second to load here.
 */
import { readFile, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Cause, Effect, Exit, Layer, Logger, LogLevel, Option } from "effect";
import { layerBackend } from "./backend.ts";
import { readExports } from "./exports.ts";
import { parseSet, UsageError, type JsonValue } from "./params.ts";
import type { Pipeline } from "./pipeline.ts";
import { layerProgress } from "./progress.ts";
import { runPipeline, type StageEvent } from "./runner.ts";
import { ArtifactStore } from "./store.ts";

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
}

const USAGE = `Usage: pipeline <command> [options]

Commands:
  list                          pipelines with one-line descriptions
  run <name> [options]          run a pipeline; prints hit or ran (and why) per stage
  explain <name> [options]      what would run and why, without running
  show <name> [node] [--json]   artifact files and lineage of the last run
  gc                            remove blobs no manifest references
  clean <name>                  forget a pipeline's cache entries

Options:
  --preset P        params preset (quick, paper, ... as the pipeline defines)
  --set k=v         override one param (repeatable), e.g. --set ecn.data.dt=2
  --until NODE      run only NODE and what it needs
  --store DIR       artifact store root (default: artifacts)
  --json            one JSON object per stage event on stdout
`;

const parseArgs = (argv: ReadonlyArray<string>): ParsedArgs => {
  const positional: string[] = [];
  const sets: Array<readonly [string, JsonValue]> = [];
  let preset: string | undefined;
  let until: string | undefined;
  let store = "artifacts";
  let json = false;
  let help = false;
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
      case "--until":
        until = take();
        break;
      case "--store":
        store = take();
        break;
      case "--json":
        json = true;
        break;
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
  return { command: positional.shift(), positional, preset, sets, until, store, json, help };
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

/** Runs the CLI and returns the process exit code. */
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
  const storeLayer = Layer.merge(ArtifactStore.layerFs(storeRoot), stderrLogger);

  switch (args.command) {
    case "list": {
      const width = Math.max(...registry.map((p) => p.name.length));
      for (const p of registry) out(args.json ? JSON.stringify({ name: p.name, description: p.description }) : `${pad(p.name, width + 2)}${p.description}`);
      return 0;
    }
    case "run":
    case "explain": {
      const entry = findEntry(args.positional[0]);
      if (typeof entry === "string") {
        err(`error: ${entry}`);
        return 2;
      }
      const pipeline = await entry.load();
      const explainOnly = args.command === "explain";
      if (!args.json) out(`${explainOnly ? "explain" : "run"} ${pipeline.name}${args.preset ? ` --preset ${args.preset}` : ""} (store ${args.store})`);
      const started = performance.now();
      const program = runPipeline({
        pipeline,
        preset: args.preset,
        sets: args.sets,
        until: args.until,
        storeRoot,
        explainOnly,
        onEvent: (event) => (args.json ? out(JSON.stringify(event)) : out(formatEvent(event)))
      }).pipe(Effect.provide(Layer.mergeAll(storeLayer, layerBackend(), layerProgress(args.json))));
      const exit = await Effect.runPromiseExit(program);
      if (Exit.isSuccess(exit)) {
        if (!args.json) out(`done in ${((performance.now() - started) / 1000).toFixed(2)}s`);
        return 0;
      }
      const failure = Cause.failureOption(exit.cause);
      if (Option.isSome(failure)) {
        const error = failure.value as { _tag?: string; message?: string };
        err(`error: ${error.message ?? String(error)}`);
        return error instanceof UsageError || error._tag === "UsageError" ? 2 : 1;
      }
      err(`error: ${Cause.pretty(exit.cause)}`);
      return 1;
    }
    case "show": {
      const entry = findEntry(args.positional[0]);
      if (typeof entry === "string") {
        err(`error: ${entry}`);
        return 2;
      }
      const pipeline = await entry.load();
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
          const manifest = record ? yield* store.readManifest(record.key) : undefined;
          if (manifest === undefined) {
            rows.push({ node: node.id, stage: node.stage.name, status: "not run" });
            continue;
          }
          // Read only: the files were written by the run that made this result.
          const codec = node.stage._kind === "loop" ? node.stage.state : node.stage.output;
          const files = yield* Effect.promise(() => readExports(storeRoot, pipeline.name, node.id, manifest));
          let summary: unknown;
          if (entry.summarize !== undefined) {
            const bytes = yield* store.getBlob(manifest.outputs["value"]!.blob);
            summary = entry.summarize(node.id, codec.decode(bytes));
          }
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
      const rows = await Effect.runPromise(program);
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
      const result = await Effect.runPromise(Effect.flatMap(ArtifactStore, (s) => s.gc()).pipe(Effect.provide(storeLayer)));
      out(args.json ? JSON.stringify(result) : `removed ${result.removedBlobs} blobs, freed ${(result.freedBytes / 1e6).toFixed(1)} MB`);
      return 0;
    }
    case "clean": {
      const entry = findEntry(args.positional[0]);
      if (typeof entry === "string") {
        err(`error: ${entry}`);
        return 2;
      }
      const removed = await Effect.runPromise(
        Effect.gen(function* () {
          const store = yield* ArtifactStore;
          const manifests = yield* store.listManifests();
          let count = 0;
          for (const m of manifests) {
            if (m.pipeline === entry.name) {
              yield* store.deleteManifest(m.key);
              count++;
            }
          }
          yield* Effect.promise(() => rm(join(storeRoot, "refs", entry.name), { recursive: true, force: true }));
          yield* Effect.promise(() => rm(join(storeRoot, "exports", entry.name), { recursive: true, force: true }));
          return count;
        }).pipe(Effect.provide(storeLayer))
      );
      out(`forgot ${removed} cache entries of ${entry.name}; run pipeline gc to free their blobs`);
      return 0;
    }
    default:
      err(`error: Unknown command "${args.command}"; see pipeline --help.`);
      return 2;
  }
};

