/**
 * What PARAMS means, spelled out: explain and run name each changed param by its full dotted path
 * (the node's subtree prefixed) with its old and new value, including the seed, keys that appear
 * or disappear, and at most five of them.
 */
import { describe, expect, it } from "vitest";
import { describeParamChange } from "../../core/pipeline/runner.ts";

const record = (params: unknown, seed = 1) => JSON.stringify({ params, seed });

describe("describeParamChange", () => {
  it("names changed leaves with full paths and values", () => {
    expect(describeParamChange(record({ gmm: { nInit: 5, tol: 0.001 } }), record({ gmm: { nInit: 2, tol: 0.001 } }), "ecn")).toBe("changed ecn.gmm.nInit (5 -> 2)");
    expect(describeParamChange(record({ a: 1 }, 1), record({ a: 1 }, 2), "x")).toBe("changed seed (1 -> 2)");
    expect(describeParamChange(record({ a: 1 }), record({ a: 1, b: [1, 2] }), "")).toBe("changed b (unset -> [1,2])");
    expect(describeParamChange(record({ a: "x" }), record({}), "p")).toBe('changed p.a ("x" -> unset)');
    expect(describeParamChange(record({ a: 1 }), record({ a: 1 }), "p")).toBeUndefined();
    // Execution params (e.g. worker threads) never change a result, so they are not named.
    expect(describeParamChange(record({ n: 3, rollouts: { workers: 0 } }), record({ n: 5, rollouts: { workers: 2 } }), "c", ["rollouts"])).toBe("changed c.n (3 -> 5)");
  });

  it("names at most five and counts the rest", () => {
    const before = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`k${i}`, i]));
    const after = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`k${i}`, i + 1]));
    expect(describeParamChange(record(before), record(after), "p")).toBe("changed p.k0 (0 -> 1), p.k1 (1 -> 2), p.k2 (2 -> 3), p.k3 (3 -> 4), p.k4 (4 -> 5) and 3 more");
  });
});
