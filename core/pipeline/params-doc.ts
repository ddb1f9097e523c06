/**
 * `pipeline params`: every param a pipeline reads, as `dvc params` and scikit-learn's
 * `get_params` show them: the dotted path `--set` takes, the type its Schema accepts, the value
 * under the pipeline's defaults and under a preset, and a one-line meaning. Types and meanings
 * come from the stages' param Schemas (the meaning is the `description` annotation of the field),
 * the values from resolving the params tree exactly as a run does, so this listing cannot drift
 * from what a run accepts.
 */
import { Either, Option, SchemaAST as AST } from "effect";
import type { JsonValue, ParamTree } from "./params.ts";
import { absoluteParamPath, type Pipeline } from "./pipeline.ts";
import { resolveParams } from "./runner.ts";

export interface ParamDoc {
  /** The dotted path `--set` takes. */
  readonly path: string;
  readonly type: string;
  readonly meaning: string | null;
  /** Under the pipeline's defaults, and under the preset asked for (absent when none was). */
  readonly value: JsonValue | null;
  readonly presetValue?: JsonValue | null;
  /** The nodes reading it. */
  readonly nodes: readonly string[];
}

/** A short description of the values an AST accepts. */
export const describeType = (ast: AST.AST): string => {
  switch (ast._tag) {
    case "NumberKeyword":
      return "number";
    case "StringKeyword":
      return "string";
    case "BooleanKeyword":
      return "boolean";
    case "Literal":
      return JSON.stringify(ast.literal);
    case "Union": {
      const parts = [...new Set(ast.types.map(describeType))].filter((t) => t !== "undefined");
      return parts.join(" | ");
    }
    case "UndefinedKeyword":
      return "undefined";
    case "TupleType":
      return ast.elements.length === 0 && ast.rest.length === 1 ? `array of ${describeType(ast.rest[0]!.type)}` : `[${ast.elements.map((e) => describeType(e.type)).join(", ")}]`;
    case "Refinement": {
      // Refinements stack (an integer, then positive): every description of the chain is kept.
      const descriptions: string[] = [];
      let current: AST.AST = ast;
      while (AST.isRefinement(current)) {
        const description = AST.getDescriptionAnnotation(current);
        if (Option.isSome(description)) descriptions.unshift(description.value);
        current = current.from;
      }
      return descriptions.length > 0 ? descriptions.join(", ") : describeType(current);
    }
    case "Transformation":
      return describeType(ast.to);
    case "TypeLiteral":
      return "object";
    case "Suspend":
      return describeType(ast.f());
    case "Declaration":
      return Option.getOrElse(AST.getDescriptionAnnotation(ast), () => "value");
    default:
      return ast._tag;
  }
};

interface Leaf {
  readonly type: string;
  readonly meaning: string | null;
}

/** The leaves (non-object params) a schema accepts, by dotted path relative to it. */
/** The shape under refinements and suspensions (a struct with a cross-field check is still a struct). */
const structural = (ast: AST.AST): AST.AST => {
  let current = AST.typeAST(ast);
  for (;;) {
    if (AST.isRefinement(current)) current = AST.typeAST(current.from);
    else if (AST.isSuspend(current)) current = AST.typeAST(current.f());
    else return current;
  }
};

/**
 * The fields as declared, on both sides of a transformation: `AST.typeAST` rebuilds a field whose
 * type it changes (a suspended, recursive schema, say) without the field's annotations.
 */
const declaredFields = (ast: AST.AST): ReadonlyArray<AST.PropertySignature> => {
  if (AST.isTypeLiteral(ast)) return ast.propertySignatures;
  if (AST.isRefinement(ast)) return declaredFields(ast.from);
  if (AST.isSuspend(ast)) return declaredFields(ast.f());
  if (AST.isTransformation(ast)) return [...declaredFields(ast.to), ...declaredFields(ast.from)];
  return [];
};

const fieldDescription = (ast: AST.AST, ps: AST.PropertySignature): Option.Option<string> =>
  Option.orElse(AST.getDescriptionAnnotation(ps), () =>
    Option.firstSomeOf(declaredFields(ast).filter((d) => d.name === ps.name).map((d) => AST.getDescriptionAnnotation(d)))
  );

export const schemaLeaves = (ast: AST.AST, prefix = "", out = new Map<string, Leaf>(), meaning: string | null = null): Map<string, Leaf> => {
  const typeSide = structural(ast);
  // An object with no fields (a node reading nothing of its subtree) offers nothing to set.
  if (AST.isTypeLiteral(typeSide) && typeSide.propertySignatures.length === 0 && typeSide.indexSignatures.length === 0) return out;
  if (AST.isTypeLiteral(typeSide) && typeSide.propertySignatures.length > 0) {
    for (const ps of typeSide.propertySignatures) {
      const own = fieldDescription(ast, ps);
      // A field without a meaning of its own is explained by the object it belongs to.
      schemaLeaves(ps.type, prefix === "" ? String(ps.name) : `${prefix}.${String(ps.name)}`, out, Option.isSome(own) ? own.value : meaning);
    }
    return out;
  }
  // A union of objects (e.g. a data source of several kinds) lists each kind's fields.
  if (AST.isUnion(typeSide) && typeSide.types.some((t) => { const member = structural(t); return AST.isTypeLiteral(member) && member.propertySignatures.length > 0; })) {
    for (const t of typeSide.types) schemaLeaves(t, prefix, out, meaning);
    return out;
  }
  // A field typed unknown passes a subtree through to be read by other nodes: they list it.
  const passThrough = (t: AST.AST): boolean => AST.isUnknownKeyword(t) || AST.isAnyKeyword(t) || (AST.isUnion(t) && t.types.some((m) => passThrough(structural(m))));
  if (passThrough(typeSide)) return out;
  if (!out.has(prefix)) out.set(prefix, { type: describeType(ast), meaning });
  return out;
};

const getPath = (tree: unknown, path: string): JsonValue | null => {
  let v: unknown = tree;
  for (const key of path.split(".")) {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return null;
    v = (v as Record<string, unknown>)[key];
  }
  return v === undefined ? null : (v as JsonValue);
};

/** Every param of `pipeline` with its type, meaning and values (and the preset's, when one is named). */
export const documentParams = (pipeline: Pipeline, preset?: string): Either.Either<ParamDoc[], { readonly message: string }> => {
  const base = resolveParams(pipeline, undefined, []);
  if (Either.isLeft(base)) return Either.left(base.left);
  const withPreset = preset === undefined ? undefined : resolveParams(pipeline, preset, []);
  if (withPreset !== undefined && Either.isLeft(withPreset)) return Either.left(withPreset.left);
  const docs = new Map<string, { type: string; meaning: string | null; nodes: string[]; value: JsonValue | null; presetValue?: JsonValue | null }>();
  base.right.nodes.forEach((item, i) => {
    const leaves = schemaLeaves(item.node.stage.params.ast);
    const presetItem = withPreset !== undefined && Either.isRight(withPreset) ? withPreset.right.nodes[i] : undefined;
    for (const [relative, leaf] of leaves) {
      const path = absoluteParamPath(item.node, relative);
      if (path === "seed") continue;
      const existing = docs.get(path);
      if (existing !== undefined) {
        existing.nodes.push(item.node.id);
        if (existing.meaning === null) existing.meaning = leaf.meaning;
        continue;
      }
      docs.set(path, {
        type: leaf.type,
        meaning: leaf.meaning,
        nodes: [item.node.id],
        value: getPath(item.encodedParams, relative),
        ...(presetItem !== undefined ? { presetValue: getPath(presetItem.encodedParams, relative) } : {})
      });
    }
  });
  const seedOf = (tree: ParamTree) => (tree as { seed?: JsonValue }).seed ?? null;
  const out: ParamDoc[] = [
    {
      path: "seed",
      type: "integer",
      meaning: "the run's seed: every random draw of every node derives from it and the node's name",
      value: seedOf(base.right.tree),
      ...(withPreset !== undefined && Either.isRight(withPreset) ? { presetValue: seedOf(withPreset.right.tree) } : {}),
      nodes: base.right.nodes.map((n) => n.node.id)
    }
  ];
  for (const [path, d] of [...docs].sort(([a], [b]) => a.localeCompare(b))) out.push({ path, ...d });
  return Either.right(out);
};
