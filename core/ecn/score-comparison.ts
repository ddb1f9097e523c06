/**
 * How sure a comparison of two ECN models' scores is (paper table 2). Table 2 compares mean
 * log-likelihoods per sample on the same test samples; the samples are a time series whose
 * per-sample log-likelihoods are autocorrelated (quiet and busy stretches of the book) and
 * heavy-tailed (a step on a point mass of the data scores tens of nats more than one off it), so
 * an interval that treated samples as independent would be far too narrow. Batch means instead:
 * the test part is cut into consecutive blocks, each model is scored per block, and the interval
 * of the mean difference is the paired Student-t interval over the blocks (core/analysis/paired.ts;
 * blocks long next to the autocorrelation are close to independent).
 */
import { pairedDifference } from "../analysis/paired.ts";

/** Why the embedded data cannot test table 2: what its generator (core/ecn/synthetic.ts) leaves for a history to predict. */
export const syntheticHistoryNote =
  "the embedded generator draws each level's volume variation independently at every step, so the history the neural models read carries no information about volumes (only the spread persists)";

/** `blocks` consecutive, near-equal ranges covering [from, to) (sizes differ by at most 1). */
export const consecutiveBlocks = (from: number, to: number, blocks: number): Array<readonly [number, number]> => {
  const count = to - from;
  if (!Number.isInteger(blocks) || blocks < 2) throw new RangeError(`blocks must be an integer >= 2, got ${blocks}`);
  if (count < blocks) throw new RangeError(`${count} test samples cannot fill ${blocks} blocks; use fewer blocks or a longer test part`);
  return Array.from({ length: blocks }, (_, b) => [from + Math.floor((b * count) / blocks), from + Math.floor(((b + 1) * count) / blocks)] as const);
};

/** The mean of `second - first` over the blocks' mean scores, with its 95% interval. */
export interface BlockScoreDifference<Name extends string = string> {
  readonly first: Name;
  readonly second: Name;
  readonly mean: number;
  readonly stdError: number;
  readonly low: number;
  readonly high: number;
}

/** Each pair's paired difference of per-block mean scores (`scores[name][b]`: model `name`'s mean score on block b). */
export const blockScoreDifferences = <Name extends string>(scores: Readonly<Record<Name, ArrayLike<number>>>, pairs: ReadonlyArray<readonly [Name, Name]>): Array<BlockScoreDifference<Name>> =>
  pairs.map(([first, second]) => {
    const d = pairedDifference(scores[first], scores[second]);
    return { first, second, mean: d.mean, stdError: d.stdError, low: d.ciLow, high: d.ciHigh };
  });
