/**
 * ECN model benchmark (SPEC 1.3): EM fit time of the S0 and S mixtures (5 components, full
 * covariance, nInit = 5) on the AMZN and GOOG LOBSTER samples, last two hours at dt = 1 s, with the
 * test-set mean log-likelihood per sample; and the throughput of drawing S vectors from a fitted
 * model (goal >= 1M/s on one core), next to a reference measured in the same run: 12 Box-Muller
 * normals from `Random.normal()` per sample, the cost of the naive way to draw the same vector.
 * If /tmp/ecn-sklearn.json (the output of test/bench/ecn-sklearn.py) exists, the difference
 * ours - sklearn of the mean test log-likelihood is reported too. Seeds: ECN_BENCH_SEEDS
 * (default "0,1,2"); tickers: ECN_BENCH_TICKERS (default "AMZN,GOOG").
 * Usage: node --import tsx test/bench/ecn.bench.ts
 */
import { existsSync, readFileSync } from "node:fs";
import { Random } from "../../core/random/philox.ts";
import { fitGmm, scoreGmm } from "../../core/ecn/gmm.ts";
import { fitEcnModel, gmmVariationModel, prepareSnapshotInput } from "../../core/ecn/model.ts";
import { chronologicalSplit } from "../../core/ecn/samples.ts";
import { generateSyntheticL2 } from "../../core/ecn/synthetic.ts";
import { tickerSamples, zipPath } from "./ecn-export.ts";

const seeds = (process.env.ECN_BENCH_SEEDS ?? "0,1,2").split(",").map(Number);
const tickers = (process.env.ECN_BENCH_TICKERS ?? "AMZN,GOOG").split(",");

// --- Sampling throughput -------------------------------------------------------------------
const synthetic = generateSyntheticL2(Random.fromSeed(1));
const input = prepareSnapshotInput(synthetic.series);
const model = fitEcnModel(input.series, { tick: synthetic.tick, rawOrderSizes: input.rawOrderSizes, theoryDraws: 1000 }, Random.fromSeed(2));
const sampler = gmmVariationModel(model).forEpisode();
const out = new Float64Array(12);
const rate = (count: number, body: (n: number) => void): number => {
  body(Math.min(count, 100_000)); // warm-up
  const t0 = performance.now();
  body(count);
  return count / ((performance.now() - t0) / 1000);
};
const sampleRng = Random.fromSeed(3);
const samplesPerSecond = rate(2_000_000, (n) => {
  for (let i = 0; i < n; i++) sampler.sampleStep(sampleRng, out);
});
const referenceRng = Random.fromSeed(4);
let sink = 0;
const boxMullerVectorsPerSecond = rate(2_000_000, (n) => {
  for (let i = 0; i < n; i++) for (let j = 0; j < 12; j++) sink += referenceRng.normal();
});

// --- EM fits on real data --------------------------------------------------------------------
const sklearn = existsSync("/tmp/ecn-sklearn.json")
  ? (JSON.parse(readFileSync("/tmp/ecn-sklearn.json", "utf8")) as { results: Record<string, { meanTestLogLik: number; meanFitSeconds: number }> })
  : undefined;
const fits: Record<string, unknown> = {};
for (const ticker of tickers) {
  if (!existsSync(zipPath(ticker))) {
    fits[ticker] = "data not found";
    continue;
  }
  const samples = tickerSamples(ticker);
  const m = samples.levels;
  for (const [name, data, count, dim] of [
    ["S0", samples.s0, samples.s0Count, 2 * m + 1],
    ["S", samples.s, samples.sCount, 2 * m + 2]
  ] as const) {
    const split = chronologicalSplit(count);
    const train = data.subarray(0, split.train[1] * dim);
    const test = data.subarray(split.test[0] * dim, split.test[1] * dim);
    const runs = seeds.map((seed) => {
      const t0 = performance.now();
      const fit = fitGmm(train, split.train[1], dim, { nComponents: 5, nInit: 5 }, Random.fromSeed(seed));
      const seconds = (performance.now() - t0) / 1000;
      return { seed, testLogLik: scoreGmm(fit.model, test), trainLowerBound: fit.lowerBound, iterations: fit.iterations, converged: fit.converged, fitSeconds: seconds };
    });
    const meanTestLogLik = runs.reduce((a, r) => a + r.testLogLik, 0) / runs.length;
    const meanFitSeconds = runs.reduce((a, r) => a + r.fitSeconds, 0) / runs.length;
    const reference = sklearn?.results[`${ticker}_${name}`];
    fits[`${ticker}_${name}`] = {
      nTrain: split.train[1],
      nTest: split.test[1] - split.test[0],
      runs,
      meanTestLogLik,
      meanFitSeconds,
      ...(reference
        ? {
            sklearnMeanTestLogLik: reference.meanTestLogLik,
            oursMinusSklearn: meanTestLogLik - reference.meanTestLogLik,
            sklearnMeanFitSeconds: reference.meanFitSeconds
          }
        : {})
    };
  }
}

console.log(
  JSON.stringify({
    sampling: {
      sSamplesPerSecond: samplesPerSecond,
      boxMullerReferenceVectorsPerSecond: boxMullerVectorsPerSecond,
      speedupOverReference: samplesPerSecond / boxMullerVectorsPerSecond,
      sink: Number.isFinite(sink)
    },
    emFits: fits
  })
);
