/**
 * Canonical JSON and cache keys (ARCHITECTURE section 3): the same params must give the same key
 * whatever their key order or number spelling, and different params must give different keys.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cacheKey, canonicalJson, CanonicalizationError } from "../../core/pipeline/canonical.ts";
import { sha256Hex } from "../../core/pipeline/hash.ts";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Semantic equality of JSON values: numbers by value (so 0 equals -0), objects regardless of key order. */
const sameJson = (a: Json, b: Json): boolean => {
  if (typeof a === "number" || typeof b === "number") return a === b;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return a === b;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]!));
  }
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && sameJson(a[k]!, b[k]!));
};

/** A deep copy whose objects list their keys in an order chosen by `order` (from the property's inputs). */
const reorder = (value: Json, order: number[], depth = 0): Json => {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => reorder(v, order, depth + 1));
  const keys = Object.keys(value);
  const shuffled = keys
    .map((k, i) => ({ k, rank: order[(i + depth) % Math.max(order.length, 1)] ?? i }))
    .sort((x, y) => x.rank - y.rank)
    .map((x) => x.k);
  // fromEntries defines own properties, so a key such as "__proto__" stays an ordinary key.
  return Object.fromEntries(shuffled.reverse().map((k) => [k, reorder(value[k]!, order, depth + 1)]));
};

/** Every node of a JSON value, in pre-order, with a function replacing it in a copy. */
const withReplaced = (value: Json, index: number, replacement: Json): Json => {
  let counter = 0;
  const walk = (v: Json): Json => {
    if (counter++ === index) return replacement;
    if (v === null || typeof v !== "object") return v;
    if (Array.isArray(v)) return v.map(walk);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
  };
  return walk(value);
};

const json = fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>;

/** Other JSON spellings of the same double: exponent form, trailing zeros, explicit exponent zero. */
const spellings = (x: number): string[] => {
  const plain = String(x);
  const [mantissa, exponent] = x.toExponential().split("e") as [string, string];
  const out = [plain, `${mantissa}e${exponent}`, `${mantissa.includes(".") ? mantissa : `${mantissa}.`}00E${exponent}`];
  if (!plain.includes("e")) out.push(plain.includes(".") ? `${plain}000` : `${plain}.0`, `${plain}e0`);
  return out;
};

describe("canonicalJson / cacheKey", () => {
  it("gives equal keys for values equal up to key order", () => {
    fc.assert(
      fc.property(json, fc.array(fc.nat(100), { maxLength: 8 }), (value, order) => {
        expect(cacheKey({ params: reorder(value, order) })).toBe(cacheKey({ params: value }));
      }),
      { numRuns: 300 }
    );
  });

  it("gives equal keys for numbers written differently in the JSON text (1.50 vs 1.5, 1e2 vs 100)", () => {
    expect(cacheKey(JSON.parse('{"a":1.50,"b":[1e2]}'))).toBe(cacheKey(JSON.parse('{"b":[100],"a":1.5}')));
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string({ maxLength: 4 }), (x, key) => {
        const texts = spellings(x);
        const keys = new Set(texts.map((t) => cacheKey(JSON.parse(`{"${JSON.stringify(key).slice(1, -1)}":${t},"list":[${t}]}`))));
        expect(keys.size, texts.join(" ")).toBe(1);
      }),
      { numRuns: 300 }
    );
  });

  it("folds -0 into 0 and 1.0 into 1", () => {
    expect(canonicalJson({ x: -0 })).toBe(canonicalJson({ x: 0 }));
    expect(canonicalJson([1.0, 2.5e0])).toBe(canonicalJson(JSON.parse("[1, 2.50]")));
  });

  it("gives different keys exactly when a value changes (replacing any node of a value)", () => {
    fc.assert(
      fc.property(json, fc.nat(200), json, (value, index, replacement) => {
        const changed = withReplaced(value, index, replacement);
        expect(cacheKey({ p: changed }) === cacheKey({ p: value })).toBe(sameJson(changed, value));
      }),
      { numRuns: 400 }
    );
  });

  it("changes the key when a leaf number changes by one ulp", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e300, max: 1e300 }), (x) => {
        const next = x + Math.max(Math.abs(x) * Number.EPSILON, Number.MIN_VALUE);
        fc.pre(next !== x);
        expect(cacheKey({ a: [x] })).not.toBe(cacheKey({ a: [next] }));
      })
    );
  });

  it("writes valid JSON that parses back to an equal value, with keys sorted", () => {
    fc.assert(
      fc.property(json, (value) => {
        const text = canonicalJson(value);
        expect(sameJson(JSON.parse(text) as Json, value)).toBe(true);
        // Idempotent: the canonical form of the parsed canonical form is itself.
        expect(canonicalJson(JSON.parse(text))).toBe(text);
      })
    );
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: "x" } })).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  });

  it("drops undefined-valued keys and writes typed arrays as number arrays", () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe(canonicalJson({ a: 1 }));
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true, noDefaultInfinity: true })), (xs) => {
        expect(canonicalJson({ v: new Float64Array(xs) })).toBe(canonicalJson({ v: xs }));
      })
    );
    expect(canonicalJson(new Int32Array([1, -2]))).toBe(canonicalJson([1, -2]));
    expect(canonicalJson(new Float32Array([0.5]))).toBe("[0.5]");
  });

  it("rejects non-finite numbers, bigints, functions and cycles with a tagged error naming the path", () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic["self"] = cyclic;
    const cases: Array<[unknown, string]> = [
      [{ a: { b: [1, Number.NaN] } }, "a.b[1]"],
      [{ x: Number.POSITIVE_INFINITY }, "x"],
      [{ f: new Float64Array([1, Number.NEGATIVE_INFINITY]) }, "f[1]"],
      [{ n: 1n }, "n"],
      [{ g: () => 1 }, "g"],
      [cyclic, "self"],
      [[undefined], "[0]"]
    ];
    for (const [value, path] of cases) {
      let caught: unknown;
      try {
        canonicalJson(value);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(CanonicalizationError);
      expect((caught as CanonicalizationError)._tag).toBe("CanonicalizationError");
      expect((caught as CanonicalizationError).path).toBe(path);
    }
  });

  it("cacheKey is the SHA-256 of the canonical JSON", () => {
    expect(cacheKey({ b: 2, a: 1 })).toBe(sha256Hex('{"a":1,"b":2}'));
    expect(sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });
});
