/**
 * Stages: the unit of work and of caching (ARCHITECTURE section 3). A stage is a value holding its
 * name, the Schema of its params, the codecs of its inputs' and output's artifacts, and `run`, an
 * Effect from (inputs, params) to the output that may use the framework services (`Rng`,
 * `Progress`, `Backend`, `ArtifactStore`) and fails only with tagged errors. `source` is the stage module's URL: its
 * code fingerprint (the module and the local modules it imports) enters the cache key, so editing
 * the stage or anything it calls re-runs it. A loop stage is the same idea for training loops: an
 * initial state, a body applied once per iteration, and a checkpoint every K iterations.
 */
import { Data, Effect, Schema } from "effect";
import type { Backend } from "./backend.ts";
import type { Codec } from "./codecs/codec.ts";
import type { Progress } from "./progress.ts";
import type { Rng } from "./rng.ts";
import type { ArtifactStore } from "./store.ts";

/**
 * The services a stage's effect may use. The artifact store is there for transient blobs (e.g.
 * payloads for remote workers); a stage's results still go through its declared output.
 */
export type StageServices = Rng | Progress | Backend | ArtifactStore;

/** A failure inside a stage, reported to the user as one sentence. */
export class StageFailure extends Data.TaggedError("StageFailure")<{
  readonly stage: string;
  readonly message: string;
  readonly cause?: unknown;
}> {}

/** Any tagged error a stage may fail with. */
export interface TaggedFailure {
  readonly _tag: string;
  readonly message: string;
}

export type InputCodecs<I> = { readonly [K in keyof I]: Codec<I[K]> };

export interface Stage<P, I, O> {
  readonly _kind: "stage";
  readonly name: string;
  readonly description: string;
  /** URL (`import.meta.url`) of the module that defines the stage: its code fingerprint root. */
  readonly source: string;
  readonly params: Schema.Schema<P, any>;
  readonly inputs: InputCodecs<I>;
  readonly output: Codec<O>;
  /** Exported views of the output for other tools, e.g. a Parquet copy of an Arrow table. */
  readonly exports?: ReadonlyArray<{ readonly name: string; readonly extension: string; readonly encode: (value: O) => Uint8Array }>;
  /**
   * External files the stage reads (real data); their content hashes enter the cache key, so an
   * edited data file re-runs the stage (reason INPUT). Hashed with a size+mtime stat cache.
   */
  readonly fileInputs?: (params: P) => ReadonlyArray<string>;
  /**
   * Names of params that change how the stage runs but never what it produces (e.g. the number of
   * worker threads): left out of the cache key, recorded in the provenance.
   */
  readonly executionParams?: ReadonlyArray<string>;
  readonly run: (inputs: I, params: P) => Effect.Effect<O, TaggedFailure, StageServices>;
}

export interface LoopContext {
  /** 1-based index of the iteration being run. */
  readonly iteration: number;
  /** Total iterations requested for this run. */
  readonly iterations: number;
  /** Shows a short status next to the loop's progress bar (e.g. "reward 0.91, 1900 steps/s"). */
  readonly status: (text: string) => void;
  /** Reports the iteration's figures by name (e.g. "calibration/reward"), for machine-readable progress (`--json`). */
  readonly metrics: (values: Readonly<Record<string, number>>) => void;
}

export interface LoopStage<P, I, S> {
  readonly _kind: "loop";
  readonly name: string;
  readonly description: string;
  readonly source: string;
  readonly params: Schema.Schema<P, any>;
  readonly inputs: InputCodecs<I>;
  /** Codec of the loop state: the checkpoint artifact and the loop's output. */
  readonly state: Codec<S>;
  readonly exports?: ReadonlyArray<{ readonly name: string; readonly extension: string; readonly encode: (value: S) => Uint8Array }>;
  /** Iteration count N; it is left out of the loop's key, so raising it re-uses checkpoints. */
  readonly iterations: (params: P) => number;
  /** Checkpoint interval K; also left out of the key: the state after k iterations does not depend on K. */
  readonly checkpointEvery: (params: P) => number;
  /** Names of params that only set N and K and so are not part of the loop's key. */
  readonly scheduleParams: ReadonlyArray<string>;
  /** As for `Stage`: params that never change results (worker threads), left out of the key. */
  readonly executionParams?: ReadonlyArray<string>;
  readonly init: (inputs: I, params: P) => Effect.Effect<S, TaggedFailure, StageServices>;
  /** One iteration. Its randomness must come from `Rng` split by the iteration index. */
  readonly step: (state: S, inputs: I, params: P, context: LoopContext) => Effect.Effect<S, TaggedFailure, StageServices>;
  /**
   * Frees what the live state holds besides its data (threads, connections) when the loop's run
   * ends, successfully or not. The state is still read afterwards (it is the loop's output), so
   * this must leave its data intact.
   */
  readonly release?: (state: S) => Effect.Effect<void>;
}

export type AnyStage = Stage<any, any, any> | LoopStage<any, any, any>;

/** A thrown error or rejection of a domain computation as the stage's one-sentence failure. */
const failureOf = (stage: string) => (cause: unknown) =>
  new StageFailure({ stage, message: cause instanceof Error ? cause.message : String(cause), cause });

export const Stage = {
  make: <P, I, O>(definition: Omit<Stage<P, I, O>, "_kind">): Stage<P, I, O> => ({ _kind: "stage", ...definition }),
  loop: <P, I, S>(definition: Omit<LoopStage<P, I, S>, "_kind">): LoopStage<P, I, S> => ({ _kind: "loop", ...definition }),
  /** Wraps a synchronous domain computation, turning a thrown error into a `StageFailure`. */
  attempt: <A>(stage: string, f: () => A): Effect.Effect<A, StageFailure> => Effect.try({ try: f, catch: failureOf(stage) }),
  /** Wraps an asynchronous domain computation, turning a rejection into a `StageFailure`. */
  attemptPromise: <A>(stage: string, f: () => Promise<A>): Effect.Effect<A, StageFailure> => Effect.tryPromise({ try: f, catch: failureOf(stage) })
};
