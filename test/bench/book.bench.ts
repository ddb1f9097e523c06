/**
 * Order book benchmarks (core/book): LOBSTER replay events/s on the AMZN level-5 sample (parsing
 * excluded), ECN agent steps/s with the Gaussian stand-in model (sampling + order generation +
 * matching), and raw book operations/s on a random order stream. Prints one JSON object.
 * Goals: replay 2M+ events/s, ECN agent 100k+ steps/s. Rates are given per wall-clock second and
 * per CPU second of this process (the latter is steadier on a shared machine, but also counts GC
 * threads); the load average at start is printed so figures can be read in context.
 */
import { loadavg } from "node:os";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readLobsterZip } from "../../core/ecn/lobster.ts";
import { replayLobster } from "../../core/book/lobster-replay.ts";
import { OrderBook } from "../../core/book/order-book.ts";
import { EcnAgent } from "../../core/book/ecn-agent.ts";
import { Random } from "../../core/random/philox.ts";
import { GaussianStandInModel } from "../book/gaussian-stand-in.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const zip = path.resolve(repoRoot, "../shared/data/lobster/LOBSTER_SampleFile_AMZN_2012-06-21_5.zip");
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const figures: Record<string, unknown> = { loadAverage1m: Number(loadavg()[0]!.toFixed(2)) };
const cpuSeconds = (since: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
};

if (existsSync(zip)) {
  const data = readLobsterZip(zip);
  const rates: number[] = [];
  const cpuRates: number[] = [];
  let mismatches = 0;
  for (let run = 0; run < 9; run++) {
    const cpu = process.cpuUsage();
    const report = replayLobster(data);
    const seconds = cpuSeconds(cpu);
    if (run < 2) continue; // warm-up
    rates.push(report.eventsPerSecond);
    cpuRates.push(report.events / seconds);
    mismatches += report.mismatches;
  }
  figures.replayEvents = data.messages.length - 1;
  figures.replayEventsPerSecondMedian = Math.round(median(rates));
  figures.replayEventsPerSecondBest = Math.round(Math.max(...rates));
  figures.replayEventsPerCpuSecondMedian = Math.round(median(cpuRates));
  figures.replayMismatches = mismatches;
} else {
  figures.replaySkipped = `no sample at ${zip}`;
}

{
  const m = 5;
  const model = new GaussianStandInModel({
    levels: m,
    alpha: 0.3,
    lnVolumeMean: 1.5,
    lnVolumeSd: 0.3,
    deltaMean: [0.4, 0.3, 0.5, 0.35, 0.3, 0.4, 0.3, 0.5, 0.35, 0.3],
    deltaSd: [0.8, 0.7, 1.0, 0.9, 0.8, 0.8, 0.7, 1.0, 0.9, 0.8],
    deltaFloor: -1,
    spreadChoices: [1, 1, 2, 3],
    midSd: 0.5,
    orderSizes: [0.5, 1, 1, 2, 3, 5]
  });
  const book = new OrderBook({ minPriceTick: 0, maxPriceTick: 100000 });
  const agent = new EcnAgent(book, model, { p0Tick: 50000, depthLevels: 20, originator: 1 });
  const rng = Random.fromSeed(7);
  agent.startEpisode(rng);
  for (let i = 0; i < 20000; i++) agent.step(rng);
  const rates: number[] = [];
  const cpuRates: number[] = [];
  const steps = 100000;
  const ordersBefore = agent.stats.limitOrders + agent.stats.marketOrders + agent.stats.cancelOrders;
  let elapsed = 0;
  for (let run = 0; run < 5; run++) {
    agent.startEpisode(rng);
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < steps / 5; i++) agent.step(rng);
    const dt = performance.now() - t0;
    cpuRates.push(steps / 5 / cpuSeconds(cpu));
    elapsed += dt;
    rates.push(steps / 5 / (dt / 1000));
  }
  const orders = agent.stats.limitOrders + agent.stats.marketOrders + agent.stats.cancelOrders - ordersBefore;
  figures.ecnAgentStepsPerSecondMedian = Math.round(median(rates));
  figures.ecnAgentStepsPerCpuSecondMedian = Math.round(median(cpuRates));
  figures.ecnAgentOrdersPerStep = Number((orders / steps).toFixed(1));
  figures.ecnAgentOrdersPerSecond = Math.round(orders / (elapsed / 1000));
}

{
  const book = new OrderBook({ minPriceTick: 0, maxPriceTick: 2000 });
  const rng = Random.fromSeed(11);
  const ids = new Float64Array(4096);
  let count = 0;
  const ops = 2_000_000;
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < ops; i++) {
    const u = rng.uniform();
    const side = rng.bernoulli(0.5) ? 1 : -1;
    if (u < 0.55) {
      const price = side === 1 ? 1000 - 1 - rng.int(20) : 1000 + rng.int(20);
      const id = book.submitLimit(side, price, 1 + rng.int(5), 1);
      if (count < ids.length) ids[count++] = id;
      else ids[rng.int(ids.length)] = id;
    } else if (u < 0.9) {
      if (count > 0) {
        const k = rng.int(count);
        const id = ids[k]!;
        if (book.orderQuantity(id) > 0) book.cancel(id);
        ids[k] = ids[--count]!;
      }
    } else {
      book.submitMarket(side, 1 + rng.int(8), 2);
    }
  }
  figures.bookRandomOpsPerSecond = Math.round(ops / ((performance.now() - t0) / 1000));
  figures.bookRandomOpsPerCpuSecond = Math.round(ops / cpuSeconds(cpu));
}

console.log(JSON.stringify(figures));
