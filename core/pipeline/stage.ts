/**
 * Stages: the unit of work and of caching (ARCHITECTURE section 3). A stage is a value holding its
 * name, the Schema of its params, the codecs of its inputs' and output's artifacts, and `run`, an
 * Effect from (inputs, params) to the output that may use the framework services (`Rng`,
 * `Progress`, `Backend`, `ArtifactStore`) and fails only with tagged errors. `source` is the stage module's URL: its
 * code fingerprint (the module and the local modules it imports) enters the cache key, so editing
 * the stage or anything it calls re-runs it. A loop stage is the same idea for training loops: an
 * initial state (plain data), a body of stages applied once per iteration (loop-body.ts), and a
 * checkpoint every K iterations.
 */
import { Data, Effect, Schema } from "effect";
import type { Backend } from "./backend.ts";
import type { Codec } from "./codecs/codec.ts";
import type { LoopBody } from "./loop-body.ts";
import type { Progress } from "./progress.ts";
import type { Rng } from "./rng.ts";
import type { ArtifactStore } from "./store.ts";
import type { Workspace } from "./workspace.ts";

/**
 * The services every stage's effect may use. The artifact store is there for transient blobs (e.g.
 * payloads for remote workers); a stage's results still go through its declared output. The
 * workspace keeps live objects a node materialises from plain data for as long as it runs. A
 * stage may need more (`R`: e.g. a rollout executor): the pipeline provides those for the run.
 */
export type StageServices = Rng | Progress | Backend | ArtifactStore | Workspace;

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

export interface Stage<P, I, O, R = never> {
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
  readonly run: (inputs: I, params: P) => Effect.Effect<O, TaggedFailure, StageServices | R>;
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

export interface LoopStage<P, I, S, R = never> {
  readonly _kind: "loop";
  readonly name: string;
  readonly description: string;
  readonly source: string;
  readonly params: Schema.Schema<P, any>;
  readonly inputs: InputCodecs<I>;
  /**
   * Codec of the loop state: the checkpoint artifact and the loop's output. The state is plain
   * data (what a checkpoint holds); live objects built from it stay in the node's workspace.
   */
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
  readonly init: (inputs: I, params: P) => Effect.Effect<S, TaggedFailure, StageServices | R>;
  /** One iteration as a small DAG of stages run in memory (loop-body.ts); a loop has a body or a `step`. */
  readonly body?: LoopBody<P, I, S, R>;
  /**
   * For a loop that decides its own length (a stopping rule): true once the state is final. N is
   * then a cap: the loop stops at the first final state, and its output for N is that state (the
   * state after N iterations of a loop that stopped at k < N is its state at k).
   */
  readonly finished?: (state: S) => boolean;
  /** One iteration written by hand. Its randomness must come from `Rng` split by the iteration index. */
  readonly step?: (state: S, inputs: I, params: P, context: LoopContext) => Effect.Effect<S, TaggedFailure, StageServices | R>;
}

export type AnyStage = Stage<any, any, any, any> | LoopStage<any, any, any, any>;

/** A thrown error or rejection of a domain computation as the stage's one-sentence failure. */
const failureOf = (stage: string) => (cause: unknown) =>
  new StageFailure({ stage, message: cause instanceof Error ? cause.message : String(cause), cause });

export const Stage = {
  // `R` as inferred includes the framework's services; a stage's own services are the rest.
  make: <P, I, O, R = never>(definition: Omit<Stage<P, I, O, R>, "_kind">): Stage<P, I, O, Exclude<R, StageServices>> =>
    ({ _kind: "stage", ...definition }) as Stage<P, I, O, Exclude<R, StageServices>>,
  loop: <P, I, S, R = never>(definition: Omit<LoopStage<P, I, S, R>, "_kind">): LoopStage<P, I, S, Exclude<R, StageServices>> =>
    ({ _kind: "loop", ...definition }) as LoopStage<P, I, S, Exclude<R, StageServices>>,
  /** Wraps a synchronous domain computation, turning a thrown error into a `StageFailure`. */
  attempt: <A>(stage: string, f: () => A): Effect.Effect<A, StageFailure> => Effect.try({ try: f, catch: failureOf(stage) }),
  /** Wraps an asynchronous domain computation, turning a rejection into a `StageFailure`. */
  attemptPromise: <A>(stage: string, f: () => Promise<A>): Effect.Effect<A, StageFailure> => Effect.tryPromise({ try: f, catch: failureOf(stage) })
};
