/**
 * Loop bodies: the small DAG of stages one iteration of a loop node runs (ARCHITECTURE sections 3
 * and 6), e.g. build-supertypes -> rollouts -> ppo-update -> calibrator-update. A body is declared
 * like a pipeline: `LoopBody.make` wires stages through typed references to the loop state, the
 * loop's inputs, values set up once per run of the loop (an env description, network specs),
 * fields and projections of these, and earlier steps' outputs; `finish` folds the iteration's
 * values into the next state with its figures. Every step is an ordinary stage (params Schema,
 * input and output codecs); the runner executes the body in memory every iteration and
 * checkpoints the state every K iterations, and can keep chosen steps' outputs through their
 * stage's exports (`keep`). Each step draws its random numbers from a stream named in the body:
 * a path under the iteration's stream (the default: the step's id) or under the node's own stream
 * for steps whose draws are indexed by a counter of their own (a Bayesian optimiser's proposals).
 */
import { Data, Effect, type Scope } from "effect";
import { nodeStream, Random, Rng } from "./rng.ts";
import type { LoopContext, LoopStage, Stage, StageServices, TaggedFailure } from "./stage.ts";
import { makeWorkspace, Workspace } from "./workspace.ts";

declare const valueType: unique symbol;

/** A typed reference to a value of the body: the state, an input, a setup value, a step's output, or a field or projection of one. */
export interface BodyRef<A> {
  readonly node: string;
  /** How the value is drawn in `explain` and `dag` (e.g. "state.lp"). */
  readonly label: string;
  readonly [valueType]?: A;
}

export type StreamPath = ReadonlyArray<string | number>;

/** Where a step's random numbers come from. */
export type StepStream =
  | { readonly from: "iteration"; readonly path: StreamPath }
  | { readonly from: "node"; readonly path: StreamPath }
  /**
   * The run's stream for the iteration, whatever the node: every node of a run that names the
   * same path draws the same numbers at the same iteration (common random numbers, so that loops
   * differing only in a what-if change differ only by that change).
   */
  | { readonly from: "run"; readonly path: StreamPath };

export interface StepOptions<P, SP> {
  /** The step stage's params, from the loop's (computed once per run of the loop). */
  readonly params: (params: P) => SP;
  /** Default: `{ from: "iteration", path: [step id] }`. */
  readonly stream?: StepStream;
}

export interface FinishContext<P> {
  readonly params: P;
  readonly iteration: number;
  /** Wall seconds of this iteration so far (for throughput figures; never part of the state). */
  readonly seconds: number;
}

/** What `finish` returns: the next state and the iteration's figures and one-line status. */
export interface BodyResult<S> {
  readonly state: S;
  readonly metrics?: Readonly<Record<string, number>>;
  readonly status?: string;
}

type Values<T> = { readonly [K in keyof T]: T[K] extends BodyRef<infer A> ? A : never };
type Refs<I> = { readonly [K in keyof I]: BodyRef<I[K]> };

export interface BodyBuilder<P, I, S, R> {
  readonly state: BodyRef<S>;
  /** The 1-based index of the iteration being run. */
  readonly iteration: BodyRef<number>;
  input<K extends keyof I & string>(name: K): BodyRef<I[K]>;
  /**
   * A value computed once per run of the loop from its params and inputs (the same object every
   * iteration), directly or by an effect (e.g. resolving a compute backend).
   */
  setup<A>(id: string, compute: (params: P, inputs: I) => A | Effect.Effect<A, TaggedFailure, StageServices | R>): BodyRef<A>;
  /** A field of a value. */
  field<A, K extends keyof A & string>(ref: BodyRef<A>, key: K): BodyRef<A[K]>;
  /** A pure projection of values (drawn as the edges it reads). */
  map<T extends Record<string, BodyRef<unknown>>, B>(label: string, refs: T, f: (values: Values<T>) => B): BodyRef<B>;
  step<SP, SI, SO, SR extends R>(id: string, stage: Stage<SP, SI, SO, SR>, inputs: Refs<SI>, options: StepOptions<P, SP>): BodyRef<SO>;
  /** The fold of the iteration into the next state; the body's last word. */
  finish<T extends Record<string, BodyRef<unknown>>>(refs: T, f: (values: Values<T>, context: FinishContext<P>) => BodyResult<S>): BodyFinish<P, S>;
}

export interface BodyFinish<P, S> {
  readonly _tag: "BodyFinish";
  readonly reads: Readonly<Record<string, string>>;
  readonly run: (values: Readonly<Record<string, unknown>>, context: FinishContext<P>) => BodyResult<S>;
}

/** One node of a body as the runner sees it. */
export type BodyNode =
  | { readonly kind: "state" | "iteration"; readonly id: string }
  | { readonly kind: "input"; readonly id: string; readonly name: string }
  | { readonly kind: "setup"; readonly id: string; readonly compute: (params: unknown, inputs: unknown) => unknown }
  | { readonly kind: "field"; readonly id: string; readonly of: string; readonly key: string }
  | { readonly kind: "map"; readonly id: string; readonly reads: Readonly<Record<string, string>>; readonly f: (values: Readonly<Record<string, unknown>>) => unknown }
  | {
      readonly kind: "step";
      readonly id: string;
      readonly stage: Stage<any, any, any, any>;
      readonly inputs: Readonly<Record<string, string>>;
      readonly params: (params: unknown) => unknown;
      readonly stream: StepStream;
    };

export interface LoopBody<P, I, S, R = never> {
  readonly _tag: "LoopBody";
  /** Nodes in execution order. */
  readonly nodes: ReadonlyArray<BodyNode>;
  readonly finish: BodyFinish<P, S>;
  /** For typing only: the services the steps need (covariant, as in an Effect). */
  readonly _services?: () => R;
  readonly _inputs?: () => I;
}

export class LoopBodyDefinitionError extends Data.TaggedError("LoopBodyDefinitionError")<{ readonly message: string }> {}

const STEP_ID = /^[a-z0-9][a-z0-9-]*$/;

/** Where a body value comes from, for `explain` and `dag`: the step it is an output of, or its source. */
export interface BodyStepView {
  readonly id: string;
  readonly stage: string;
  readonly description: string;
  /** Input name -> what feeds it (a step id, "state", "input:<name>", "setup:<id>", "iteration"), with the value's label. */
  readonly inputs: ReadonlyArray<{ readonly name: string; readonly from: string; readonly label: string }>;
}

export const LoopBody = {
  make<P, I, S, R = never>(build: (b: BodyBuilder<P, I, S, R>) => BodyFinish<P, S>): LoopBody<P, I, S, R> {
    const nodes: BodyNode[] = [];
    const ids = new Set<string>();
    let anonymous = 0;
    const ref = <A>(node: string, label: string): BodyRef<A> => ({ node, label });
    const add = (node: BodyNode) => {
      if (ids.has(node.id)) throw new LoopBodyDefinitionError({ message: `loop body: "${node.id}" is declared twice.` });
      ids.add(node.id);
      nodes.push(node);
    };
    const known = (r: BodyRef<unknown>, where: string) => {
      if (!ids.has(r.node)) throw new LoopBodyDefinitionError({ message: `loop body: ${where} reads "${r.label}", which is not declared before it.` });
      return r.node;
    };
    add({ kind: "state", id: "state" });
    add({ kind: "iteration", id: "iteration" });
    const builder: BodyBuilder<P, I, S, R> = {
      state: ref("state", "state"),
      iteration: ref("iteration", "iteration"),
      input: (name) => {
        const id = `input:${name}`;
        if (!ids.has(id)) add({ kind: "input", id, name });
        return ref(id, name);
      },
      setup: (id, compute) => {
        add({ kind: "setup", id: `setup:${id}`, compute: compute as (p: unknown, i: unknown) => unknown });
        return ref(`setup:${id}`, id);
      },
      field: (of, key) => {
        known(of, `field ${key}`);
        const id = `${of.node}.${key}`;
        if (!ids.has(id)) add({ kind: "field", id, of: of.node, key });
        return ref(id, `${of.label}.${key}`);
      },
      map: (label, refs, f) => {
        const reads = Object.fromEntries(Object.entries(refs).map(([k, r]) => [k, known(r, label)]));
        const id = `map:${++anonymous}:${label}`;
        add({ kind: "map", id, reads, f: f as (values: Readonly<Record<string, unknown>>) => unknown });
        return ref(id, label);
      },
      step: (id, stage, inputs, options) => {
        if (!STEP_ID.test(id)) throw new LoopBodyDefinitionError({ message: `loop body: step ids are lower-case words joined by dashes, got "${id}".` });
        const expected = Object.keys(stage.inputs).sort();
        const given = Object.keys(inputs).sort();
        const missing = expected.filter((k) => !given.includes(k));
        const extra = given.filter((k) => !expected.includes(k));
        if (missing.length > 0 || extra.length > 0) {
          throw new LoopBodyDefinitionError({
            message: `loop body, step "${id}": stage "${stage.name}" takes inputs ${expected.join(", ")}${missing.length > 0 ? `; not wired: ${missing.join(", ")}` : ""}${extra.length > 0 ? `; unknown: ${extra.join(", ")}` : ""}.`
          });
        }
        const wired = Object.fromEntries(Object.entries(inputs as Record<string, BodyRef<unknown>>).map(([k, r]) => [k, known(r, `step "${id}"`)]));
        add({
          kind: "step",
          id,
          stage,
          inputs: wired,
          params: options.params as (p: unknown) => unknown,
          stream: options.stream ?? { from: "iteration", path: [id] }
        });
        return ref(id, id);
      },
      finish: (refs, f) => ({
        _tag: "BodyFinish",
        reads: Object.fromEntries(Object.entries(refs).map(([k, r]) => [k, known(r, "finish")])),
        run: f as BodyFinish<P, S>["run"]
      })
    };
    const finish = build(builder);
    return { _tag: "LoopBody", nodes, finish };
  },

  /** The steps in execution order with what feeds each input: what `explain` prints and `dag` draws. */
  steps(body: LoopBody<any, any, any, any>): BodyStepView[] {
    const byId = new Map(body.nodes.map((n) => [n.id, n] as const));
    // A value's origin: the step it comes out of, or where it enters the body.
    const origin = (id: string): string[] => {
      const node = byId.get(id)!;
      switch (node.kind) {
        case "step":
          return [node.id];
        case "field":
          return origin(node.of);
        case "map":
          return [...new Set(Object.values(node.reads).flatMap(origin))];
        case "input":
          return [`input:${node.name}`];
        case "setup":
          return [node.id];
        default:
          return [node.kind];
      }
    };
    const labelOf = (id: string): string => {
      const node = byId.get(id)!;
      if (node.kind === "field") return `${labelOf(node.of)}.${node.key}`;
      if (node.kind === "map") return node.id.split(":").slice(2).join(":");
      if (node.kind === "input") return node.name;
      if (node.kind === "setup") return node.id.slice("setup:".length);
      return node.id;
    };
    return body.nodes.flatMap((node) =>
      node.kind !== "step"
        ? []
        : [
            {
              id: node.id,
              stage: node.stage.name,
              description: node.stage.description,
              inputs: Object.entries(node.inputs).flatMap(([name, from]) => origin(from).map((o) => ({ name, from: o, label: labelOf(from) })))
            }
          ]
    );
  }
};

/** Where a kept step output goes: the runner writes it (e.g. as Parquet) under the node's files. */
export type KeepSink = (step: string, iteration: number, files: ReadonlyArray<{ readonly name: string; readonly extension: string; readonly bytes: Uint8Array }>) => Effect.Effect<void>;

export interface BodyOptions {
  /** Steps whose outputs go to `sink` every iteration, through their stage's exports. */
  readonly keep?: ReadonlyArray<string>;
  readonly sink?: KeepSink;
  /** Told each step's wall time (benchmarks: what the composition costs beside the steps' work). */
  readonly onStep?: (step: string, ms: number) => void;
}

/** A body ready to run for one run of its loop: setups computed, step params resolved. */
export interface PreparedBody<S, R> {
  readonly iterate: (state: S, context: LoopContext) => Effect.Effect<S, TaggedFailure, StageServices | R>;
}

/**
 * Prepares `body` for a run of its loop with `params` and `inputs`; `keep` names steps whose
 * outputs go to `sink` every iteration through their stage's exports.
 */
export const prepareBody = <P, I, S, R>(
  body: LoopBody<P, I, S, R>,
  params: P,
  inputs: I,
  options: BodyOptions = {}
): Effect.Effect<PreparedBody<S, R>, TaggedFailure, StageServices | R> =>
  Effect.gen(function* () {
    const setups = new Map<string, unknown>();
    const stepParams = new Map<string, unknown>();
    for (const node of body.nodes) {
      if (node.kind === "setup") {
        const value = node.compute(params, inputs);
        setups.set(node.id, Effect.isEffect(value) ? yield* (value as Effect.Effect<unknown, TaggedFailure, StageServices | R>) : value);
      }
      if (node.kind === "step") stepParams.set(node.id, node.params(params));
    }
    return prepared(body, params, inputs, setups, stepParams, options);
  });

const prepared = <P, I, S, R>(
  body: LoopBody<P, I, S, R>,
  params: P,
  inputs: I,
  setups: ReadonlyMap<string, unknown>,
  stepParams: ReadonlyMap<string, unknown>,
  options: BodyOptions
): PreparedBody<S, R> => {
  const keep = new Set(options.keep ?? []);
  const split = (stream: Random, path: StreamPath) => path.reduce<Random>((s, part) => s.split(part), stream);
  const iterate = (state: S, context: LoopContext): Effect.Effect<S, TaggedFailure, StageServices | R> =>
    Effect.gen(function* () {
      const started = performance.now();
      const rng = yield* Rng;
      const iterationStream = rng.stream.split("iterations").split(context.iteration);
      const values = new Map<string, unknown>();
      for (const node of body.nodes) {
        switch (node.kind) {
          case "state":
            values.set(node.id, state);
            break;
          case "iteration":
            values.set(node.id, context.iteration);
            break;
          case "input":
            values.set(node.id, (inputs as Record<string, unknown>)[node.name]);
            break;
          case "setup":
            values.set(node.id, setups.get(node.id));
            break;
          case "field":
            values.set(node.id, (values.get(node.of) as Record<string, unknown>)[node.key]);
            break;
          case "map":
            values.set(node.id, node.f(Object.fromEntries(Object.entries(node.reads).map(([k, id]) => [k, values.get(id)]))));
            break;
          case "step": {
            const stepInputs = Object.fromEntries(Object.entries(node.inputs).map(([k, id]) => [k, values.get(id)]));
            const root = node.stream.from === "iteration" ? iterationStream : node.stream.from === "node" ? rng.stream : Random.fromSeed(rng.seed).split("run-iterations").split(context.iteration);
            const stream = split(root, node.stream.path);
            const run = node.stage.run(stepInputs, stepParams.get(node.id)) as Effect.Effect<unknown, TaggedFailure, StageServices | R>;
            const stepStarted = options.onStep === undefined ? 0 : performance.now();
            const output = yield* run.pipe(Effect.provideService(Rng, { stream, seed: rng.seed }));
            options.onStep?.(node.id, performance.now() - stepStarted);
            values.set(node.id, output);
            if (keep.has(node.id) && options.sink !== undefined) {
              const files = (node.stage.exports ?? []).map((e) => ({ name: e.name, extension: e.extension, bytes: e.encode(output) }));
              yield* options.sink(node.id, context.iteration, files);
            }
            break;
          }
        }
      }
      const finishValues = Object.fromEntries(Object.entries(body.finish.reads).map(([k, id]) => [k, values.get(id)]));
      const result = body.finish.run(finishValues, { params, iteration: context.iteration, seconds: (performance.now() - started) / 1000 });
      if (result.metrics !== undefined) context.metrics(result.metrics);
      if (result.status !== undefined) context.status(result.status);
      return result.state;
    });
  return { iterate };
};

/** A loop run step by step outside a pipeline (tests, benchmarks, notebooks): its state after each call. */
export interface LoopDriver<S> {
  /** The iterations done so far and the state after them. */
  readonly current: () => { readonly iteration: number; readonly state: S };
  /** Runs the next iteration; its figures as the body reported them. */
  readonly next: Effect.Effect<Readonly<Record<string, number>>, TaggedFailure>;
}

/**
 * Drives `loop` as the runner would, without a store: the node's random stream from (seed, node),
 * a workspace of its own (disposed of with the scope), from `start` (a state after some
 * iterations, e.g. a decoded checkpoint) or from `init`. The other services come from the caller.
 */
export const driveLoop = <P, I, S, R>(
  loop: LoopStage<P, I, S, R>,
  inputs: I,
  params: P,
  options: { readonly seed: number; readonly node?: string; readonly start?: { readonly iteration: number; readonly state: S }; readonly onStep?: BodyOptions["onStep"] }
): Effect.Effect<LoopDriver<S>, TaggedFailure, Scope.Scope | Exclude<StageServices, Rng | Workspace> | R> =>
  Effect.gen(function* () {
    const workspace = makeWorkspace();
    yield* Effect.addFinalizer(() => workspace.close);
    const context = yield* Effect.context<Exclude<StageServices, Rng | Workspace> | R>();
    const provided = <A>(effect: Effect.Effect<A, TaggedFailure, StageServices | R>) =>
      effect.pipe(
        Effect.provideService(Workspace, workspace),
        Effect.provideService(Rng, { stream: nodeStream(options.seed, options.node ?? loop.name), seed: options.seed }),
        Effect.provide(context)
      );
    let iteration = options.start?.iteration ?? 0;
    let state = options.start !== undefined ? options.start.state : yield* provided(loop.init(inputs, params));
    const body = loop.body === undefined ? undefined : yield* provided(prepareBody(loop.body, params, inputs, options.onStep !== undefined ? { onStep: options.onStep } : {}));
    const next = Effect.suspend(() => {
      let metrics: Readonly<Record<string, number>> = {};
      const k = iteration + 1;
      const context: LoopContext = { iteration: k, iterations: k, status: () => undefined, metrics: (m) => (metrics = m) };
      const run = body !== undefined ? body.iterate(state, context) : loop.step!(state, inputs, params, context);
      return Effect.map(provided(run), (after) => {
        state = after;
        iteration = k;
        return metrics;
      });
    });
    return { current: () => ({ iteration, state }), next };
  });

/**
 * The body as the steps one iteration runs, for `explain`: one line per step with what feeds it
 * (e.g. "rollouts <- setup, state.lp, build-supertypes.populations").
 */
export const describeBody = (body: LoopBody<any, any, any, any>): string[] =>
  LoopBody.steps(body).map((step) => {
    const from = new Map<string, string[]>();
    for (const input of step.inputs) from.set(input.name, [...(from.get(input.name) ?? []), input.from.replace(/^(setup|input):.*$/, "$1")]);
    const inputs = [...from].map(([name, origins]) => `${name}: ${[...new Set(origins)].join(" + ")}`);
    return `${step.id}${step.stage !== step.id ? ` (${step.stage})` : ""} <- ${inputs.join(", ")}`;
  });

/**
 * The body as a graph for `dag` (core/pipeline/dag.ts `LoopBody`): the steps, plus "state" (and the
 * loop's inputs) where values enter, and an edge per step input from the step (or source) it comes
 * from, labelled with the input's name.
 */
export const bodyGraph = (body: LoopBody<any, any, any, any>): { steps: { id: string; label?: string }[]; edges: { from: string; to: string; label?: string }[] } => {
  const steps = LoopBody.steps(body);
  const ids = new Set(steps.map((s) => s.id));
  const sources = new Set<string>();
  const edges = steps.flatMap((step) =>
    step.inputs.map((input) => {
      const from = ids.has(input.from) ? input.from : input.from.replace(/^(setup|input):/, "");
      if (!ids.has(from)) sources.add(from);
      return { from, to: step.id, label: input.name };
    })
  );
  return {
    steps: [...[...sources].map((id) => ({ id, label: id === "state" ? "loop state" : id })), ...steps.map((s) => ({ id: s.id, label: s.stage === s.id ? s.id : `${s.id} (${s.stage})` }))],
    edges
  };
};
