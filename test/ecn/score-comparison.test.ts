/**
 * Table 2's intervals: the test part is cut into consecutive blocks that cover it exactly once
 * with near-equal sizes, bad block counts are refused with what to do, and the paired interval
 * over the blocks' mean scores is centred on the true difference of two models and covers it in
 * about 95% of repeated experiments even when the scores are autocorrelated (the reason for
 * batch means).
 */
import { describe, expect, it } from "vitest";
import { blockScoreDifferences, consecutiveBlocks } from "../../core/ecn/score-comparison.ts";
import { Random } from "../../core/random/philox.ts";

describe("consecutiveBlocks", () => {
  it("covers [from, to) exactly once with sizes differing by at most one", () => {
    for (const [from, to, blocks] of [[0, 10, 2], [7, 1087, 10], [100, 113, 13], [5, 1000, 7]] as const) {
      const ranges = consecutiveBlocks(from, to, blocks);
      expect(ranges).toHaveLength(blocks);
      expect(ranges[0]![0]).toBe(from);
      expect(ranges[blocks - 1]![1]).toBe(to);
      for (let b = 1; b < blocks; b++) expect(ranges[b]![0]).toBe(ranges[b - 1]![1]);
      const sizes = ranges.map(([a, z]) => z - a);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
  });

  it("refuses fewer than two blocks or more blocks than samples, saying what to do", () => {
    expect(() => consecutiveBlocks(0, 100, 1)).toThrow(/integer >= 2/);
    expect(() => consecutiveBlocks(0, 5, 10)).toThrow(/use fewer blocks/);
  });
});

describe("blockScoreDifferences", () => {
  it("gives a zero-width interval at the shift when one model scores a constant more on every block", () => {
    const vanilla = [1.5, -2, 3.25, 0, 7];
    const [d] = blockScoreDifferences({ vanilla, neural: vanilla.map((v) => v + 0.75) }, [["vanilla", "neural"]]);
    expect(d!.mean).toBeCloseTo(0.75, 12);
    expect(d!.high - d!.low).toBeCloseTo(0, 12);
    expect(d!.first).toBe("vanilla");
    expect(d!.second).toBe("neural");
  });

  it("covers the true difference in about 95% of experiments on autocorrelated per-sample scores", () => {
    // Per-sample scores: an AR(1) level shared by both models (rho 0.9, the book's regime), plus
    // for model b an AR(1) term of its own (rho 0.8), so the paired differences are
    // autocorrelated too; model b is better by 0.3 per sample. Ten blocks of 100 samples.
    const rng = Random.fromSeed(11);
    const trials = 600;
    const truth = 0.3;
    let covered = 0;
    for (let trial = 0; trial < trials; trial++) {
      const a: number[] = [];
      const b: number[] = [];
      let level = 0;
      let own = 0;
      let blockA = 0;
      let blockB = 0;
      for (let i = 0; i < 1000; i++) {
        level = 0.9 * level + rng.normal();
        own = 0.8 * own + rng.normal();
        blockA += level + rng.normal();
        blockB += level + truth + own;
        if ((i + 1) % 100 === 0) {
          a.push(blockA / 100);
          b.push(blockB / 100);
          blockA = 0;
          blockB = 0;
        }
      }
      const [d] = blockScoreDifferences({ a, b }, [["a", "b"]]);
      if (d!.low <= truth && truth <= d!.high) covered++;
    }
    // 95% of 600: sd of the count is sqrt(600 * 0.95 * 0.05) = 5.3; allow 3.5 sd.
    expect(covered / trials).toBeGreaterThan(0.95 - (3.5 * 5.3) / 600);
    expect(covered / trials).toBeLessThan(0.95 + (3.5 * 5.3) / 600);
  });
});
