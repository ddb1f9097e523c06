/**
 * `pnpm lob replay --messages FILE --orderbook FILE [--levels N] [--tick UNITS] [--json]`, or
 * `pnpm lob replay --zip FILE ...`: replays a LOBSTER sample through the order book engine
 * (core/book/lobster-replay.ts) and prints events, mismatches on known levels, re-adopted levels,
 * out-of-queue executions and events per second. Plain argument parsing: domain code stays free of
 * the pipeline framework. Exit codes: 0 no mismatch, 1 mismatches found, 2 bad usage or bad input.
 */
import { readLobsterCsvPair, readLobsterZip } from "../ecn/lobster.ts";
import { replayLobster } from "./lobster-replay.ts";

const usage = `usage:
  pnpm lob replay --messages FILE --orderbook FILE [--levels N] [--tick UNITS] [--json]
  pnpm lob replay --zip FILE [--levels N] [--tick UNITS] [--json]
  --levels N     levels compared per side (default: all levels of the file)
  --tick UNITS   LOBSTER price units (dollars x 10000) per tick (default 100, one cent)
  --json         print the report as one JSON object`;

const fail = (message: string): never => {
  console.error(`${message}\n${usage}`);
  process.exit(2);
};

const main = (argv: readonly string[]): void => {
  const [command, ...rest] = argv;
  if (command !== "replay") fail(command === undefined ? "missing command" : `unknown command ${command}; the only command is replay`);
  const flags = new Map<string, string>();
  let json = false;
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i]!;
    if (flag === "--json") {
      json = true;
      continue;
    }
    if (!["--messages", "--orderbook", "--zip", "--levels", "--tick"].includes(flag)) fail(`unknown option ${flag}`);
    const value = rest[++i];
    if (value === undefined) fail(`${flag} needs a value`);
    flags.set(flag, value!);
  }
  const zip = flags.get("--zip");
  const messages = flags.get("--messages");
  const orderbook = flags.get("--orderbook");
  if (zip === undefined && (messages === undefined || orderbook === undefined)) fail("give --zip FILE, or both --messages FILE and --orderbook FILE");
  if (zip !== undefined && (messages !== undefined || orderbook !== undefined)) fail("give either --zip or --messages/--orderbook, not both");
  const number = (flag: string): number | undefined => {
    const raw = flags.get(flag);
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1) fail(`${flag} must be a positive integer, got ${raw}`);
    return value;
  };
  const levels = number("--levels");
  const tick = number("--tick");
  let data;
  try {
    data = zip !== undefined ? readLobsterZip(zip) : readLobsterCsvPair(messages!, orderbook!);
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  const report = replayLobster(data!, { ...(levels === undefined ? {} : { levels }), ...(tick === undefined ? {} : { priceUnitsPerTick: tick }) });
  if (json) {
    console.log(JSON.stringify(report));
  } else {
    console.log(`events                    ${report.events}`);
    console.log(`rows compared             ${report.rowsCompared}`);
    console.log(`mismatches (known levels) ${report.mismatches}`);
    console.log(`levels re-adopted         ${report.readoptedLevels}`);
    console.log(`levels dropped (unknown)  ${report.droppedLevels}`);
    console.log(`known executions          ${report.knownExecutions}`);
    console.log(`  not first in FIFO queue ${report.outOfQueueExecutions}`);
    console.log(`unmatched volume          ${report.unmatchedVolume}`);
    console.log(`crossing new orders       ${report.crossingNewOrders}`);
    console.log(`events per second         ${Math.round(report.eventsPerSecond)}`);
    for (const m of report.firstMismatches) console.log(`  mismatch row ${m.row} ${m.side} ${m.priceTick}: replayed ${m.replayed}, recorded ${m.recorded}`);
  }
  process.exit(report.mismatches === 0 ? 0 : 1);
};

main(process.argv.slice(2));
