/**
 * Layered params (ARCHITECTURE section 3): pipeline defaults < preset < `--set path=value`
 * overrides, as one nested record of plain JSON values. Each node reads the subtree at its params
 * path and decodes it with its stage's Schema, so a bad value is reported with its full path.
 */
import { Data } from "effect";

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type ParamTree = { [key: string]: JsonValue };

/** Bad usage or bad params: the CLI exits 2 and writes nothing. */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

const isRecord = (value: unknown): value is { [key: string]: JsonValue } =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Deep merge: records merge key by key; anything else in `over` replaces what is in `base`. */
export const mergeParams = (base: ParamTree, over: ParamTree): ParamTree => {
  const out: ParamTree = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isRecord(current) && isRecord(value) ? mergeParams(current, value) : value;
  }
  return out;
};

export const getPath = (tree: ParamTree, path: string): JsonValue | undefined => {
  if (path === "") return tree;
  let node: JsonValue | undefined = tree;
  for (const part of path.split(".")) {
    if (!isRecord(node)) return undefined;
    node = node[part];
  }
  return node;
};

export const setPath = (tree: ParamTree, path: string, value: JsonValue): ParamTree => {
  const parts = path.split(".");
  const patch: ParamTree = {};
  let node: ParamTree = patch;
  parts.forEach((part, i) => {
    if (i === parts.length - 1) node[part] = value;
    else {
      const next: ParamTree = {};
      node[part] = next;
      node = next;
    }
  });
  return mergeParams(tree, patch);
};

/**
 * Parses the value of `--set path=value`: JSON when it parses (numbers, booleans, null, arrays,
 * objects, quoted strings), otherwise the raw text as a string.
 */
export const parseSetValue = (text: string): JsonValue => {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return text;
  }
};

export const parseSet = (assignment: string): readonly [string, JsonValue] => {
  const eq = assignment.indexOf("=");
  if (eq <= 0) {
    throw new UsageError({ message: `--set expects path=value, got "${assignment}".` });
  }
  const path = assignment.slice(0, eq).trim();
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(path)) {
    throw new UsageError({ message: `--set path "${path}" is not a dotted name like ecn.data.dt.` });
  }
  return [path, parseSetValue(assignment.slice(eq + 1))];
};
