/**
 * Pipelines: named DAGs of stage nodes (ARCHITECTURE section 3). `Pipeline.make` runs a build
 * function that wires nodes through typed references, so an input of the wrong type is a
 * compile-time error and a missing input, a duplicate node or a foreign reference fails when the
 * pipeline is built, before anything runs. Each node names the subtree of the pipeline's params it
 * reads; defaults, presets and `--set` overrides are layered over that tree (see `params.ts`).
 */
import { Data, type Layer } from "effect";
import { getPath, mergeParams, setPath, type JsonValue, type ParamTree } from "./params.ts";
import type { LoopStage, Stage, TaggedFailure } from "./stage.ts";
import type { ArtifactStore } from "./store.ts";

declare const outputType: unique symbol;

/** A typed reference to a node's output. */
export interface NodeRef<O> {
  readonly node: string;
  readonly pipeline: string;
  readonly [outputType]?: O;
}

/**
 * A subtree without some of its fields: for a node that shares a group with other nodes but never
 * reads some of its settings (`{ from: "calibration", omit: ["calsheq"] }`), so that changing them
 * does not change its cache key.
 */
export interface ParamsSubset {
  readonly from: string;
  readonly omit: ReadonlyArray<string>;
}

/**
 * Where a node's params come from: the dotted path of one subtree ("" for the whole tree), a
 * subtree without some fields (`ParamsSubset`), or a record whose every field is a subtree (e.g.
 * `{ scenario: "whatif.scenarios.a", rule: "whatif.rule" }`), for a node that reads settings shared
 * with other nodes beside its own.
 */
export type ParamsSource = string | ParamsSubset | Readonly<Record<string, string>>;

const isSubset = (source: ParamsSource): source is ParamsSubset => typeof source === "object" && Array.isArray((source as { omit?: unknown }).omit);

export interface PipelineNode {
  readonly id: string;
  readonly stage: Stage<any, any, any, any> | LoopStage<any, any, any, any>;
  /** Input name -> upstream node id. */
  readonly inputs: Readonly<Record<string, string>>;
  readonly paramsPath: ParamsSource;
  /**
   * The name its cache key and random streams derive from: its id in the pipeline that defined
   * it, so a pipeline that includes another's nodes (`include`) shares their cached results and
   * draws the same numbers. Absent: the id.
   */
  readonly key?: string;
}

/** The name a node's cache key and random streams derive from. */
export const nodeKeyName = (node: Pick<PipelineNode, "id" | "key">): string => node.key ?? node.id;

/** The subtrees a node reads. */
export const paramsPathsOf = (node: Pick<PipelineNode, "paramsPath">): string[] => {
  const source = node.paramsPath;
  return typeof source === "string" ? [source] : isSubset(source) ? [source.from] : Object.values(source);
};

/** Whether a node reads the param at `path` (a full dotted path): it lies in one of its subtrees and is not omitted. */
export const readsParam = (node: Pick<PipelineNode, "paramsPath">, path: string): boolean => {
  const source = node.paramsPath;
  const inside = (group: string) => group === "" || path === group || path.startsWith(`${group}.`);
  if (!isSubset(source)) return paramsPathsOf(node).some(inside);
  if (!inside(source.from)) return false;
  const field = (source.from === "" ? path : path.slice(source.from.length + 1)).split(".")[0];
  return field === undefined || !source.omit.includes(field);
};

/** The raw (undecoded) params of a node in a resolved tree. */
export const rawParamsOf = (node: Pick<PipelineNode, "paramsPath">, tree: ParamTree): JsonValue | undefined => {
  const source = node.paramsPath;
  if (typeof source === "string") return getPath(tree, source);
  if (isSubset(source)) {
    const subtree = getPath(tree, source.from);
    if (typeof subtree !== "object" || subtree === null || Array.isArray(subtree)) return subtree;
    return Object.fromEntries(Object.entries(subtree).filter(([field]) => !source.omit.includes(field)));
  }
  return Object.fromEntries(Object.entries(source).map(([field, path]) => [field, getPath(tree, path) ?? {}]));
};

/** The full path of a param given relative to the node's params (e.g. "rule.window" -> "whatif.rule.window"). */
export const absoluteParamPath = (node: Pick<PipelineNode, "paramsPath">, relative: string): string => {
  const source = node.paramsPath;
  if (typeof source === "string" || isSubset(source)) return [typeof source === "string" ? source : source.from, relative].filter((p) => p !== "").join(".");
  const [field, ...rest] = relative.split(".");
  const base = field === undefined ? undefined : source[field];
  return base === undefined ? relative : [base, ...rest].filter((p) => p !== "").join(".");
};

/** The same source below `root` (for an included pipeline's nodes). */
const sourceUnder = (root: string, source: ParamsSource): ParamsSource => {
  const under = (path: string) => [root, path].filter((p) => p !== "").join(".");
  if (typeof source === "string") return under(source);
  if (isSubset(source)) return { from: under(source.from), omit: source.omit };
  return Object.fromEntries(Object.entries(source).map(([field, path]) => [field, under(path)]));
};

/** How a node's params source is shown (`explain`, `dag`). */
export const paramsLabel = (node: Pick<PipelineNode, "paramsPath">): string => {
  const label = paramsPathsOf(node).filter((p) => p !== "").join(" + ");
  return isSubset(node.paramsPath) ? `${label || "(all)"} without ${node.paramsPath.omit.join(", ")}` : label;
};

export interface Pipeline {
  readonly name: string;
  readonly description: string;
  readonly defaults: ParamTree;
  readonly presets: Readonly<Record<string, ParamTree>>;
  /** Nodes in a valid execution (topological) order. */
  readonly nodes: ReadonlyArray<PipelineNode>;
  /** The services the pipeline's stages need beyond the framework's, built once per run (see `PipelineDefinition`). */
  readonly resources?: Resources<unknown>;
  /**
   * The pipeline built for a resolved params tree. Most pipelines have one shape whatever their
   * params; one whose nodes follow its params (a node per what-if scenario, as DVC's `foreach`)
   * is built again here. May throw `PipelineDefinitionError` for params it cannot be built from.
   */
  readonly instantiate: (params: ParamTree) => Pipeline;
}

/**
 * Services a pipeline provides its stages for a run (a rollout executor, a network backend): one
 * Layer, built when the run starts and released by its Scope when the run ends or fails. It may
 * use the artifact store (e.g. to move payloads through blobs).
 */
export type Resources<R> = Layer.Layer<R, TaggedFailure, ArtifactStore>;

export class PipelineDefinitionError extends Data.TaggedError("PipelineDefinitionError")<{ readonly message: string }> {}

type InputRefs<I> = { readonly [K in keyof I]: NodeRef<I[K]> };

/** Wires nodes; a stage may need the services `R` the pipeline's resources provide. */
export interface PipelineBuilder<R = never> {
  node<P, I, O>(id: string, stage: Stage<P, I, O, R>, inputs: InputRefs<I>, paramsPath?: ParamsSource): NodeRef<O>;
  loop<P, I, S>(id: string, stage: LoopStage<P, I, S, R>, inputs: InputRefs<I>, paramsPath?: ParamsSource): NodeRef<S>;
  /**
   * Adds the nodes of `pipeline` (as its params under `paramsRoot` shape it; those `until` needs,
   * one node or several, when given) as `<prefix>.<node id>`, reading their params under
   * `paramsRoot`. They keep their own cache keys and random streams (the run's seed is the
   * including pipeline's), so results cached by a run of `pipeline` itself are hits here.
   */
  include(prefix: string, pipeline: Pipeline, paramsRoot: string, until?: string | ReadonlyArray<string>): Included;
}

/** The nodes an `include` added. */
export interface Included {
  /** Their ids in the included pipeline. */
  readonly ids: readonly string[];
  /** The output of the included node `id`, which must run `stage` (checked when the pipeline is built). */
  output<O>(id: string, stage: Stage<any, any, O, any> | LoopStage<any, any, O, any>): NodeRef<O>;
}

export interface PipelineDefinition<R = never> {
  readonly name: string;
  readonly description: string;
  /** The params tree every node reads from; must include `seed`. */
  readonly defaults: ParamTree & { readonly seed: JsonValue };
  readonly presets?: Readonly<Record<string, ParamTree>>;
  /**
   * For a pipeline whose defaults and presets follow one of its params (`what-if` takes those of the
   * calibration it starts from): given the params asked for, the defaults and presets to layer
   * them over. `defaults` and `presets` are what it gives for the defaults themselves.
   */
  readonly shapeFor?: (asked: ParamTree) => { readonly defaults: ParamTree & { readonly seed: JsonValue }; readonly presets: Readonly<Record<string, ParamTree>> };
  /** The services `R` its stages need, provided for the whole run (tests may swap them: `RunRequest.resources`). */
  readonly resources?: Resources<R>;
  /**
   * Wires the nodes. `params` is the resolved params tree (defaults < preset < `--set`); a pipeline
   * whose shape depends on it (one node per configured scenario) reads it, others ignore it.
   */
  readonly build: (builder: PipelineBuilder<R>, params: ParamTree) => void;
}

const NODE_ID = /^[a-z0-9][a-z0-9-]*$/;

export const Pipeline = {
  make<R = never>(definition: PipelineDefinition<R>, params: ParamTree = definition.defaults): Pipeline {
    const shape = definition.shapeFor?.(params) ?? { defaults: definition.defaults, presets: definition.presets ?? {} };
    const nodes: PipelineNode[] = [];
    const ids = new Set<string>();
    const add = (id: string, stage: PipelineNode["stage"], refs: Record<string, NodeRef<unknown>>, paramsPath: ParamsSource, key?: string) => {
      const where = `pipeline "${definition.name}", node "${id}"`;
      // An included node is `<prefix>.<its id>`; both parts follow the rule.
      if (!id.split(".").every((part) => NODE_ID.test(part)) || (key === undefined && id.includes("."))) {
        throw new PipelineDefinitionError({ message: `${where}: node ids are lower-case words joined by dashes.` });
      }
      if (ids.has(id)) throw new PipelineDefinitionError({ message: `${where}: the node id is used twice.` });
      if (stage._kind === "loop" && (stage.body === undefined) === (stage.step === undefined)) {
        throw new PipelineDefinitionError({ message: `${where}: loop stage "${stage.name}" needs exactly one of a body and a step.` });
      }
      const expected = Object.keys(stage.inputs).sort();
      const given = Object.keys(refs).sort();
      for (const name of expected) {
        if (!given.includes(name)) throw new PipelineDefinitionError({ message: `${where}: input "${name}" of stage "${stage.name}" is not wired.` });
      }
      for (const name of given) {
        if (!expected.includes(name)) throw new PipelineDefinitionError({ message: `${where}: stage "${stage.name}" has no input "${name}".` });
        const ref = refs[name]!;
        if (ref.pipeline !== definition.name || !ids.has(ref.node)) {
          throw new PipelineDefinitionError({ message: `${where}: input "${name}" refers to node "${ref.node}", which is not an earlier node of this pipeline.` });
        }
      }
      ids.add(id);
      nodes.push({ id, stage, inputs: Object.fromEntries(given.map((name) => [name, refs[name]!.node])), paramsPath, ...(key !== undefined ? { key } : {}) });
      return { node: id, pipeline: definition.name };
    };
    const include = (prefix: string, included: Pipeline, paramsRoot: string, until?: string | ReadonlyArray<string>) => {
      if (!NODE_ID.test(prefix)) throw new PipelineDefinitionError({ message: `pipeline "${definition.name}": include prefix "${prefix}" must be lower-case words joined by dashes.` });
      const subtree = getPath(params, paramsRoot);
      const shaped = included.instantiate(typeof subtree === "object" && subtree !== null && !Array.isArray(subtree) ? (subtree as ParamTree) : included.defaults);
      const refs: Record<string, NodeRef<unknown>> = {};
      for (const n of Pipeline.upTo(shaped, until)) {
        const inputs = Object.fromEntries(Object.entries(n.inputs).map(([name, upstream]) => [name, refs[upstream]!]));
        refs[n.id] = add(`${prefix}.${n.id}`, n.stage, inputs, sourceUnder(paramsRoot, n.paramsPath), nodeKeyName(n));
      }
      const stages = new Map(Pipeline.upTo(shaped, until).map((n) => [n.id, n.stage] as const));
      return {
        ids: [...stages.keys()],
        output: <O>(id: string, stage: Stage<any, any, O, any> | LoopStage<any, any, O, any>): NodeRef<O> => {
          const ran = stages.get(id);
          if (ran === undefined) throw new PipelineDefinitionError({ message: `pipeline "${definition.name}": "${prefix}" includes no node "${id}"; it has ${[...stages.keys()].join(", ")}.` });
          if (ran !== stage) throw new PipelineDefinitionError({ message: `pipeline "${definition.name}": "${prefix}.${id}" runs stage "${ran.name}", not "${stage.name}".` });
          return refs[id]! as NodeRef<O>;
        }
      };
    };
    definition.build(
      {
        node: (id, stage, inputs, paramsPath = "") => add(id, stage, inputs as Record<string, NodeRef<unknown>>, paramsPath),
        loop: (id, stage, inputs, paramsPath = "") => add(id, stage, inputs as Record<string, NodeRef<unknown>>, paramsPath),
        include
      },
      params
    );
    if (nodes.length === 0) throw new PipelineDefinitionError({ message: `pipeline "${definition.name}" has no nodes.` });
    const pipeline: Pipeline = {
      name: definition.name,
      description: definition.description,
      defaults: shape.defaults,
      presets: shape.presets,
      nodes,
      ...(definition.resources !== undefined ? { resources: definition.resources as Resources<unknown> } : {}),
      instantiate: (tree) => (tree === params ? pipeline : Pipeline.make(definition, tree))
    };
    return pipeline;
  },

  /**
   * The pipeline as built for `preset` and `sets` layered over its defaults. An unknown preset is
   * left for param resolution to report; a tree the pipeline cannot be built from is a
   * `PipelineDefinitionError` naming why.
   */
  withParams(pipeline: Pipeline, preset: string | undefined, sets: ReadonlyArray<readonly [string, JsonValue]>): Pipeline {
    const layered = (base: Pipeline) => {
      let tree = base.defaults;
      const layer = preset === undefined ? undefined : base.presets[preset];
      if (layer !== undefined) tree = mergeParams(tree, layer);
      for (const [path, value] of sets) tree = setPath(tree, path, value);
      return tree;
    };
    const tree = layered(pipeline);
    if (tree === pipeline.defaults) return pipeline;
    const shaped = pipeline.instantiate(tree);
    // Its defaults may follow what was asked: layer the request over them again.
    return shaped.defaults === pipeline.defaults ? shaped : shaped.instantiate(layered(shaped));
  },

  /** The nodes needed to produce `until` (each target's ancestors and itself), in execution order. */
  upTo(pipeline: Pipeline, until: string | ReadonlyArray<string> | undefined): ReadonlyArray<PipelineNode> {
    if (until === undefined) return pipeline.nodes;
    const byId = new Map(pipeline.nodes.map((n) => [n.id, n] as const));
    const needed = new Set<string>();
    const visit = (id: string) => {
      if (needed.has(id)) return;
      needed.add(id);
      for (const upstream of Object.values(byId.get(id)!.inputs)) visit(upstream);
    };
    for (const wanted of typeof until === "string" ? [until] : until) {
      const target = byId.get(wanted) ?? pipeline.nodes.find((n) => n.stage.name === wanted);
      if (target === undefined) {
        throw new PipelineDefinitionError({
          message: `--until ${wanted}: pipeline "${pipeline.name}" has no such node; its nodes are ${pipeline.nodes.map((n) => n.id).join(", ")}.`
        });
      }
      visit(target.id);
    }
    return pipeline.nodes.filter((n) => needed.has(n.id));
  }
};
