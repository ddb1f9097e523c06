/**
 * Canonical JSON and cache keys (ARCHITECTURE section 3, "Cache key and store"). The same params
 * must always give the same key, whatever the key order of the objects or the textual form of the
 * numbers they were parsed from, so the key is the SHA-256 of a canonical JSON text: object keys
 * sorted at every depth, numbers in JavaScript's shortest round-trip form with -0 folded into 0,
 * undefined-valued keys dropped and typed arrays written as plain arrays of numbers. Values that
 * have no faithful JSON form (NaN, Infinity, bigint, functions, cycles, Maps) are rejected rather
 * than silently mapped to something that could collide.
 */
import { Data } from "effect";
import { sha256Hex } from "./hash.ts";

/** A value cannot be written as canonical JSON; `path` says where in the value it sits. */
export class CanonicalizationError extends Data.TaggedError("CanonicalizationError")<{
  readonly path: string;
  readonly message: string;
}> {}

const fail = (path: string, what: string): never => {
  throw new CanonicalizationError({
    path,
    message: `Cannot build a cache key from ${what} at ${path || "the top level"}; replace it with a finite number, string, boolean, null, array or plain object.`
  });
};

const canonicalNumber = (value: number, path: string): string => {
  if (!Number.isFinite(value)) return fail(path, String(value));
  // String() is the shortest text that round-trips to the same double; it prints -0 as "0".
  return String(value);
};

const isTypedNumberArray = (value: object): value is ArrayLike<number> =>
  ArrayBuffer.isView(value) && !(value instanceof DataView) && !(value instanceof BigInt64Array) && !(value instanceof BigUint64Array);

const write = (value: unknown, path: string, ancestors: Set<object>, out: string[]): void => {
  switch (typeof value) {
    case "string":
      out.push(JSON.stringify(value));
      return;
    case "number":
      out.push(canonicalNumber(value, path));
      return;
    case "boolean":
      out.push(value ? "true" : "false");
      return;
    case "undefined":
      // Only reached for array elements and the top level: JSON has no undefined, and mapping it
      // to null would let [undefined] and [null] share a key.
      return fail(path, "undefined");
    case "bigint":
      return fail(path, "a bigint");
    case "function":
      return fail(path, "a function");
    case "symbol":
      return fail(path, "a symbol");
  }
  if (value === null) {
    out.push("null");
    return;
  }
  const object = value as object;
  if (ancestors.has(object)) return fail(path, "a cyclic reference");
  if (object instanceof Date) {
    if (Number.isNaN(object.getTime())) return fail(path, "an invalid Date");
    out.push(JSON.stringify(object.toISOString()));
    return;
  }
  if (ArrayBuffer.isView(object)) {
    if (!isTypedNumberArray(object)) return fail(path, "a DataView or bigint typed array");
    out.push("[");
    for (let i = 0; i < object.length; i++) {
      if (i > 0) out.push(",");
      out.push(canonicalNumber(object[i]!, `${path}[${i}]`));
    }
    out.push("]");
    return;
  }
  if (object instanceof Map || object instanceof Set || object instanceof ArrayBuffer || object instanceof RegExp) {
    return fail(path, `a ${object.constructor.name}`);
  }
  ancestors.add(object);
  if (Array.isArray(object)) {
    out.push("[");
    for (let i = 0; i < object.length; i++) {
      if (i > 0) out.push(",");
      write(object[i], `${path}[${i}]`, ancestors, out);
    }
    out.push("]");
  } else {
    const record = object as Record<string, unknown>;
    // Default sort compares UTF-16 code units: a total order independent of locale.
    const keys = Object.keys(record).filter((k) => record[k] !== undefined).sort();
    out.push("{");
    keys.forEach((key, i) => {
      if (i > 0) out.push(",");
      out.push(JSON.stringify(key), ":");
      write(record[key], path ? `${path}.${key}` : key, ancestors, out);
    });
    out.push("}");
  }
  ancestors.delete(object);
};

/**
 * The canonical JSON text of a value. Throws `CanonicalizationError` for values with no faithful
 * JSON form (non-finite numbers, bigint, functions, symbols, cycles, Map/Set, undefined in arrays).
 */
export const canonicalJson = (value: unknown): string => {
  const out: string[] = [];
  write(value, "", new Set(), out);
  return out.join("");
};

/** The cache key of named parts: SHA-256 (hex) of their canonical JSON. */
export const cacheKey = (parts: Record<string, unknown>): string => sha256Hex(canonicalJson(parts));
