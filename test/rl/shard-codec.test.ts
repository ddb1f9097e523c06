/**
 * The shard codec (core/rl/shard-codec.ts) carries a rollout shard's result between processes:
 * decoding what was encoded gives back every array bit for bit (NaN payloads, -0 and subnormals
 * included), with its type and length, every plain field and the extra, for any shape of batch;
 * the decoded arrays are views over the bytes, not copies; foreign bytes are refused.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RolloutBatch } from "../../core/rl/rollout.ts";
import { decodeShardResult, encodeShardResult } from "../../core/rl/shard-codec.ts";

const bits = (a: ArrayBufferView) => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));

const batchArb = fc.record({
  agents: fc.integer({ min: 0, max: 50 }),
  steps: fc.integer({ min: 0, max: 200 }),
  obs: fc.float32Array({ maxLength: 64 }),
  logProb: fc.float64Array({ maxLength: 33 }),
  actions: fc.int32Array({ maxLength: 17 }),
  flags: fc.uint8Array({ maxLength: 9 }),
  // A view into the middle of a larger buffer: only its own bytes may travel.
  episodeRewards: fc.float64Array({ minLength: 3, maxLength: 20 }).map((a) => a.subarray(1, a.length - 1))
});

describe("shard codec", () => {
  it("decodes what it encoded, bit for bit, for any batches and extra", () => {
    fc.assert(
      fc.property(fc.array(batchArb, { maxLength: 3 }), fc.option(fc.record({ episodes: fc.nat(), mean: fc.double(), label: fc.string(), sizes: fc.array(fc.array(fc.float64Array({ maxLength: 4 }), { maxLength: 2 }), { maxLength: 3 }) }), { nil: undefined }), fc.double({ noNaN: true, noDefaultInfinity: true, min: 0 }), (batches, extra, ms) => {
        const decoded = decodeShardResult(encodeShardResult({ batches: batches as unknown as RolloutBatch[], extra, ms }));
        expect(decoded.ms).toBe(ms);
        // toEqual compares typed arrays by value and numbers with Object.is (NaN, -0 included).
        expect(decoded.extra).toEqual(extra);
        expect(decoded.batches).toHaveLength(batches.length);
        batches.forEach((b, i) => {
          const d = decoded.batches[i] as unknown as Record<string, unknown>;
          expect(Object.keys(d).sort()).toEqual(Object.keys(b).sort());
          for (const [name, value] of Object.entries(b)) {
            if (ArrayBuffer.isView(value)) {
              const got = d[name] as ArrayBufferView;
              expect(got.constructor).toBe(value.constructor);
              expect(bits(got)).toEqual(bits(value));
            } else {
              expect(d[name]).toEqual(value);
            }
          }
        });
      }),
      { numRuns: 200 }
    );
  });

  it("decodes arrays as views over the bytes it was given", () => {
    const bytes = encodeShardResult({ batches: [{ obs: Float32Array.of(1, 2, 3), agents: 1 } as unknown as RolloutBatch], extra: undefined, ms: 1 });
    const obs = (decodeShardResult(bytes).batches[0] as unknown as { obs: Float32Array }).obs;
    expect(obs.buffer).toBe(bytes.buffer);
    expect(Array.from(obs)).toEqual([1, 2, 3]);
  });

  it("refuses bytes that are not a shard result", () => {
    expect(() => decodeShardResult(new TextEncoder().encode("something else entirely"))).toThrow(/not a rollout shard result/);
  });
});
