/**
 * Running the project's pipelines from TypeScript, as `pnpm pipeline run` does from a shell: by
 * name, with a preset and `--set`-style overrides, over an artifact store (cached like the CLI's
 * runs, so a second call with the same params is all cache hits). Imported as `otc-marl/pipelines`;
 * the registry lists the pipelines and their descriptions.
 */
import { Cause, Effect, Exit, Layer } from "effect";
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { layerBackend } from "../core/pipeline/backend.ts";
import type { JsonValue } from "../core/pipeline/params.ts";
import { layerProgress } from "../core/pipeline/progress.ts";
import { runPipeline, type StageEvent } from "../core/pipeline/runner.ts";
import { ArtifactStore } from "../core/pipeline/store.ts";
import { registry } from "./index.ts";

export { registry } from "./index.ts";

export interface RunOptions {
  readonly preset?: string;
  /** Param overrides by dotted path, as `--set path=value`. */
  readonly set?: Readonly<Record<string, JsonValue>>;
  /** Run only up to this node (and what it needs). */
  readonly until?: string;
  /** The artifact store's directory (default `artifacts`, as the CLI's). */
  readonly store?: string;
  /** Progress lines on stderr (default false). */
  readonly progress?: boolean;
  readonly onEvent?: (event: StageEvent) => void;
}

export interface RunOutcome {
  /** Per node: its cache key and the directory its files were written to (value and exports: Parquet, HTML, JSON). */
  readonly nodes: Readonly<Record<string, { readonly key: string; readonly directory: string; readonly files: readonly string[] }>>;
}

export class PipelineApiError extends Error {
  readonly _tag = "PipelineApiError";
}

/** Runs pipeline `name`; rejects with one sentence when the name, a param or a stage fails. */
export const runPipelineByName = async (name: string, options: RunOptions = {}): Promise<RunOutcome> => {
  const entry = registry.find((p) => p.name === name);
  if (entry === undefined) throw new PipelineApiError(`Unknown pipeline "${name}"; known pipelines: ${registry.map((p) => p.name).join(", ")}.`);
  const pipeline = await entry.load();
  const storeRoot = resolve(options.store ?? "artifacts");
  const program = runPipeline({
    pipeline,
    preset: options.preset,
    sets: Object.entries(options.set ?? {}),
    until: options.until,
    storeRoot,
    ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent })
  }).pipe(Effect.provide(Layer.mergeAll(ArtifactStore.layerFs(storeRoot), layerBackend(), layerProgress(!(options.progress ?? false)))));
  const exit = await Effect.runPromiseExit(program);
  if (Exit.isFailure(exit)) {
    const failure = Cause.failureOption(exit.cause);
    const message = failure._tag === "Some" && typeof failure.value === "object" && failure.value !== null && "message" in failure.value ? String(failure.value.message) : Cause.pretty(exit.cause);
    throw new PipelineApiError(message);
  }
  const nodes: Record<string, { key: string; directory: string; files: string[] }> = {};
  for (const [id, result] of exit.value.results) {
    const directory = join(storeRoot, "exports", pipeline.name, id);
    nodes[id] = { key: result.key, directory, files: existsSync(directory) ? readdirSync(directory).sort() : [] };
  }
  return { nodes };
};
