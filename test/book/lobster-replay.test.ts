/**
 * LOBSTER replay (core/book/lobster-replay.ts): the window semantics of ../shared/data/README.md on
 * a hand-made level-2 sample, then the real AMZN and GOOG level-5 samples, where replaying every
 * message must reproduce every recorded row on every known level.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { readLobsterZip, type LobsterData } from "../../core/ecn/lobster.ts";
import { replayLobster } from "../../core/book/lobster-replay.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const dataDir = path.resolve(repoRoot, "../shared/data");
const haveData = existsSync(path.join(dataDir, "lobster"));
if (!haveData) console.warn(`LOBSTER samples not found at ${dataDir}: the real-data replay tests are skipped.`);

type Level = [price: number, size: number];
type Message = [type: number, id: number, size: number, price: number, direction: number];

/** A LobsterData from messages and the book after each (asks / bids best first, dollars x 10000). */
const sample = (levels: number, steps: Array<{ message: Message; asks: Level[]; bids: Level[] }>): LobsterData => {
  const n = steps.length;
  const cells = n * levels;
  const askPrice = new Float64Array(cells).fill(9999999999);
  const askSize = new Float64Array(cells);
  const bidPrice = new Float64Array(cells).fill(-9999999999);
  const bidSize = new Float64Array(cells);
  steps.forEach((s, r) => {
    s.asks.forEach(([p, v], k) => {
      askPrice[r * levels + k] = p;
      askSize[r * levels + k] = v;
    });
    s.bids.forEach(([p, v], k) => {
      bidPrice[r * levels + k] = p;
      bidSize[r * levels + k] = v;
    });
  });
  return {
    messages: {
      length: n,
      time: Float64Array.from(steps, (_, i) => 34200 + i),
      type: Int8Array.from(steps, (s) => s.message[0]),
      orderId: Float64Array.from(steps, (s) => s.message[1]),
      size: Float64Array.from(steps, (s) => s.message[2]),
      price: Float64Array.from(steps, (s) => s.message[3]),
      direction: Int8Array.from(steps, (s) => s.message[4])
    },
    orderbook: { rows: n, levels, askPrice, askSize, bidPrice, bidSize },
    messageFile: "synthetic_message_2.csv",
    orderbookFile: "synthetic_orderbook_2.csv"
  };
};

const bids: Level[] = [[9900, 4], [9800, 2]];
const steps = (): Array<{ message: Message; asks: Level[]; bids: Level[] }> => [
  // Row 0 is the starting state: all of it anonymous.
  { message: [1, 50, 5, 10100, -1], asks: [[10100, 5], [10200, 3]], bids },
  // A new best ask pushes 10200 out of the level-2 window: 10200 becomes unknown.
  { message: [1, 1, 2, 10000, -1], asks: [[10000, 2], [10100, 5]], bids },
  // Executing it brings 10200 back, with volume that changed while nobody could see it.
  { message: [4, 1, 2, 10000, -1], asks: [[10100, 5], [10200, 7]], bids },
  // Deleting an order placed while 10200 was unknown consumes anonymous volume; 10300 re-enters.
  { message: [3, 99, 7, 10200, -1], asks: [[10100, 5], [10300, 1]], bids },
  // A hidden execution leaves the visible book alone.
  { message: [5, 0, 10, 10050, 1], asks: [[10100, 5], [10300, 1]], bids },
  // Two known bids behind anonymous volume; the second one executes first: out of queue.
  { message: [1, 2, 1, 9900, 1], asks: [[10100, 5], [10300, 1]], bids: [[9900, 5], [9800, 2]] },
  { message: [1, 3, 1, 9900, 1], asks: [[10100, 5], [10300, 1]], bids: [[9900, 6], [9800, 2]] },
  { message: [4, 3, 1, 9900, 1], asks: [[10100, 5], [10300, 1]], bids: [[9900, 5], [9800, 2]] },
  // A partial cancel of an order resting before the file (id 77 unknown) takes anonymous volume.
  { message: [2, 77, 2, 9800, 1], asks: [[10100, 5], [10300, 1]], bids: [[9900, 5]] }
];

describe("replayLobster on a hand-made level-2 sample", () => {
  it("follows the window semantics: unknown levels re-adopted, anonymous volume consumed, no mismatch", () => {
    const report = replayLobster(sample(2, steps()));
    expect(report.events).toBe(8);
    expect(report.mismatches).toBe(0);
    expect(report.readoptedLevels).toBe(2);
    expect(report.droppedLevels).toBe(1);
    expect(report.knownExecutions).toBe(2);
    expect(report.outOfQueueExecutions).toBe(1);
    expect(report.unmatchedVolume).toBe(0);
  });

  it("counts a known level that disagrees with the row once, then follows the row", () => {
    const corrupted = steps();
    for (let r = 4; r < corrupted.length; r++) corrupted[r] = { ...corrupted[r]!, asks: [[10100, 4], [10300, 1]] };
    const report = replayLobster(sample(2, corrupted));
    expect(report.mismatches).toBe(1);
    expect(report.firstMismatches[0]).toMatchObject({ row: 4, side: "ask", priceTick: 101, replayed: 5, recorded: 4 });
  });

  it("sees a known level the replay keeps but the row lacks as a mismatch", () => {
    const corrupted = steps();
    corrupted[7] = { ...corrupted[7]!, bids: [[9900, 5]] };
    const report = replayLobster(sample(2, corrupted));
    expect(report.mismatches).toBe(1);
    expect(report.firstMismatches[0]).toMatchObject({ row: 7, side: "bid", priceTick: 98, replayed: 2, recorded: 0 });
    expect(report.unmatchedVolume).toBe(2); // the later cancel at 9800 finds nothing left
  });
});

describe.skipIf(!haveData)("replayLobster on the NASDAQ level-5 samples", () => {
  for (const ticker of ["AMZN", "GOOG"]) {
    it(`${ticker}: zero mismatches on known levels over all events`, () => {
      const data = readLobsterZip(path.join(dataDir, "lobster", `LOBSTER_SampleFile_${ticker}_2012-06-21_5.zip`));
      const report = replayLobster(data);
      expect(report.events).toBe(data.messages.length - 1);
      expect(report.rowsCompared).toBe(report.events);
      expect(report.firstMismatches).toEqual([]);
      expect(report.mismatches).toBe(0);
      expect(report.unmatchedVolume).toBe(0);
      expect(report.crossingNewOrders).toBe(0);
      // The window semantics are exercised: tens of thousands of levels re-enter (README).
      expect(report.readoptedLevels).toBeGreaterThan(20000);
      expect(report.knownExecutions).toBeGreaterThan(1000);
    });
  }
  it("level-1 samples (AMZN, AAPL): zero mismatches as well, with the window one level deep", () => {
    for (const name of ["AMZN_2012-06-21_1", "AAPL_2012-06-21_1"]) {
      const data = readLobsterZip(path.join(dataDir, "lobster", `LOBSTER_SampleFile_${name}.zip`));
      expect(data.orderbook.levels).toBe(1);
      const report = replayLobster(data);
      expect(report.events).toBe(data.messages.length - 1);
      expect(report.mismatches).toBe(0);
      expect(report.readoptedLevels).toBeGreaterThan(1000);
    }
  });
});
