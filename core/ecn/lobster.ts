/**
 * Readers of raw LOBSTER level-2 data (the paper's section 2.3 fits its ECN model on
 * NASDAQ level-2 books of this kind). A LOBSTER sample is a message file (one event per row:
 * `time, type, order id, size, price, direction`) and an orderbook file whose row k is the book
 * after message k (`ask price 1, ask size 1, bid price 1, bid size 1, ask price 2, ...`). Both
 * files have no header. Values are kept exactly as in the file: prices in dollars x 10000, sizes
 * in shares, and empty levels marked by LOBSTER with price 9999999999 (ask) / -9999999999 (bid)
 * and size 0 (use `LOBSTER_EMPTY_ASK_PRICE` / `LOBSTER_EMPTY_BID_PRICE` to recognise them).
 * Equal consecutive times are legal (one market event produces several messages); a decreasing
 * time is an error. The zip reader checks each entry it extracts against the CRC-32 the archive
 * records for it (fflate does not), so a damaged download is refused instead of read as numbers.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import * as zlib from "node:zlib";
import { unzipSync } from "fflate";
import { readNumericCsv } from "./csv.ts";
import { L2InputError } from "./errors.ts";

export { L2InputError } from "./errors.ts";

/** LOBSTER's price for an empty ask level (dollars x 10000). */
export const LOBSTER_EMPTY_ASK_PRICE = 9999999999;
/** LOBSTER's price for an empty bid level (dollars x 10000). */
export const LOBSTER_EMPTY_BID_PRICE = -9999999999;
/** LOBSTER prices are dollars x 10000. */
export const LOBSTER_PRICE_SCALE = 10000;

/** The message file, column by column. */
export interface LobsterMessages {
  readonly length: number;
  /** Seconds after midnight. */
  readonly time: Float64Array;
  /** 1 new limit order, 2 partial cancel, 3 delete, 4 visible execution, 5 hidden execution, 7 halt. */
  readonly type: Int8Array;
  readonly orderId: Float64Array;
  /** Shares. */
  readonly size: Float64Array;
  /** Dollars x 10000, as in the file. */
  readonly price: Float64Array;
  /** -1 sell limit order, 1 buy limit order. */
  readonly direction: Int8Array;
}

/**
 * The orderbook file: rows x levels, row-major (entry r * levels + k is level k+1 of row r).
 * Prices in dollars x 10000; empty levels keep LOBSTER's markers (price +-9999999999, size 0).
 */
export interface LobsterOrderbook {
  readonly rows: number;
  readonly levels: number;
  readonly askPrice: Float64Array;
  readonly askSize: Float64Array;
  readonly bidPrice: Float64Array;
  readonly bidSize: Float64Array;
}

export interface LobsterData {
  readonly messages: LobsterMessages;
  readonly orderbook: LobsterOrderbook;
  readonly messageFile: string;
  readonly orderbookFile: string;
}

const MESSAGE_COLUMNS = 6;
const VALID_TYPES = new Set([1, 2, 3, 4, 5, 7]);

/** Parses a LOBSTER message file's bytes. */
export const parseLobsterMessages = (bytes: Uint8Array, file: string): LobsterMessages => {
  const table = readNumericCsv(bytes, file, { columns: MESSAGE_COLUMNS });
  const n = table.rows;
  if (n === 0) throw new L2InputError(file, 0, "the message file has no rows", "supply a non-empty LOBSTER message file");
  const v = table.values;
  const time = new Float64Array(n);
  const type = new Int8Array(n);
  const orderId = new Float64Array(n);
  const size = new Float64Array(n);
  const price = new Float64Array(n);
  const direction = new Int8Array(n);
  let previous = -Infinity;
  for (let r = 0, o = 0; r < n; r++, o += MESSAGE_COLUMNS) {
    const t = v[o]!;
    if (t < previous) {
      throw new L2InputError(
        file,
        table.lines[r]!,
        `time ${t} is earlier than the previous row's ${previous}`,
        "sort the messages by time (equal times are fine)"
      );
    }
    previous = t;
    const ty = v[o + 1]!;
    if (!VALID_TYPES.has(ty)) {
      throw new L2InputError(file, table.lines[r]!, `event type ${ty} is not one of 1,2,3,4,5,7`, "fix the type column");
    }
    const d = v[o + 5]!;
    if (d !== 1 && d !== -1) {
      throw new L2InputError(file, table.lines[r]!, `direction ${d} is neither 1 nor -1`, "fix the direction column");
    }
    time[r] = t;
    type[r] = ty;
    orderId[r] = v[o + 2]!;
    size[r] = v[o + 3]!;
    price[r] = v[o + 4]!;
    direction[r] = d;
  }
  return { length: n, time, type, orderId, size, price, direction };
};

/**
 * Parses a LOBSTER orderbook file's bytes. `levels` is checked against the column count when
 * given (the `_N.csv` suffix of the file name); otherwise the first row decides (4 columns/level).
 */
export const parseLobsterOrderbook = (bytes: Uint8Array, file: string, levels?: number): LobsterOrderbook => {
  const table = readNumericCsv(bytes, file, levels === undefined ? {} : { columns: 4 * levels });
  if (table.rows === 0) throw new L2InputError(file, 0, "the orderbook file has no rows", "supply a non-empty LOBSTER orderbook file");
  if (table.columns % 4 !== 0) {
    throw new L2InputError(
      file,
      table.lines[0]!,
      `found ${table.columns} columns, not a multiple of 4 (ask price, ask size, bid price, bid size per level)`,
      "supply every column of every level"
    );
  }
  const m = table.columns / 4;
  const n = table.rows;
  const v = table.values;
  const askPrice = new Float64Array(n * m);
  const askSize = new Float64Array(n * m);
  const bidPrice = new Float64Array(n * m);
  const bidSize = new Float64Array(n * m);
  for (let r = 0; r < n; r++) {
    const o = r * 4 * m;
    for (let k = 0; k < m; k++) {
      const i = r * m + k;
      askPrice[i] = v[o + 4 * k]!;
      askSize[i] = v[o + 4 * k + 1]!;
      bidPrice[i] = v[o + 4 * k + 2]!;
      bidSize[i] = v[o + 4 * k + 3]!;
    }
  }
  return { rows: n, levels: m, askPrice, askSize, bidPrice, bidSize };
};

const levelsFromName = (name: string): number | undefined => {
  const match = /_(\d+)\.csv$/i.exec(name);
  return match ? Number(match[1]) : undefined;
};

/** Parses a message/orderbook pair from bytes and checks that they have the same number of rows. */
export const parseLobsterPair = (
  messageBytes: Uint8Array,
  messageFile: string,
  orderbookBytes: Uint8Array,
  orderbookFile: string
): LobsterData => {
  const messages = parseLobsterMessages(messageBytes, messageFile);
  const orderbook = parseLobsterOrderbook(orderbookBytes, orderbookFile, levelsFromName(orderbookFile));
  if (messages.length !== orderbook.rows) {
    throw new L2InputError(
      orderbookFile,
      Math.min(messages.length, orderbook.rows) + 1,
      `the orderbook has ${orderbook.rows} rows but ${messageFile} has ${messages.length} messages`,
      "use the message and orderbook files of the same LOBSTER sample (row k of the book follows message k)"
    );
  }
  return { messages, orderbook, messageFile, orderbookFile };
};

/** Reads a LOBSTER message file and its orderbook file from disk. */
export const readLobsterCsvPair = (messagePath: string, orderbookPath: string): LobsterData =>
  parseLobsterPair(readFileSync(messagePath), basename(messagePath), readFileSync(orderbookPath), basename(orderbookPath));

const MESSAGE_ENTRY = /_message_(\d+)\.csv$/i;
const ORDERBOOK_ENTRY = /_orderbook_(\d+)\.csv$/i;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 in JavaScript (the zip format's polynomial, 0xEDB88320 reflected). */
export const crc32Js = (bytes: Uint8Array): number => {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};

// Node's own CRC-32 (20.15+, 22.2+) is about ten times faster; older versions use the table.
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

/** CRC-32 of `bytes`, as a zip archive records it. */
export const crc32 = (bytes: Uint8Array): number => (nativeCrc32 !== undefined ? nativeCrc32(bytes) >>> 0 : crc32Js(bytes));

/**
 * Entry name -> CRC-32 from a zip's central directory (the CRC field is 32 bits even in Zip64
 * archives). Undefined when the end-of-central-directory record cannot be found.
 */
const centralDirectoryCrcs = (zip: Uint8Array): Map<string, number> | undefined => {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return undefined;
  let count = view.getUint16(eocd + 10, true);
  let offset = view.getUint32(eocd + 16, true);
  // Zip64: the locator just before the record points at the Zip64 end record with the real values.
  if ((count === 0xffff || offset === 0xffffffff) && eocd >= 20 && view.getUint32(eocd - 20, true) === 0x07064b50) {
    const end64 = Number(view.getBigUint64(eocd - 12, true));
    count = Number(view.getBigUint64(end64 + 32, true));
    offset = Number(view.getBigUint64(end64 + 48, true));
  }
  const crcs = new Map<string, number>();
  const decoder = new TextDecoder();
  for (let e = 0; e < count; e++) {
    if (offset + 46 > zip.length || view.getUint32(offset, true) !== 0x02014b50) return undefined;
    const nameLength = view.getUint16(offset + 28, true);
    const extraLength = view.getUint16(offset + 30, true);
    const commentLength = view.getUint16(offset + 32, true);
    const raw = zip.subarray(offset + 46, offset + 46 + nameLength);
    // Names are UTF-8 when flag bit 11 is set, else code page 437; like fflate, read those as Latin-1.
    const name = view.getUint16(offset + 8, true) & 0x800 ? decoder.decode(raw) : String.fromCharCode(...raw);
    crcs.set(name, view.getUint32(offset + 16, true));
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return crcs;
};

/** Reads a LOBSTER sample zip holding one `*_message_N.csv` and one `*_orderbook_N.csv` entry. */
export const readLobsterZip = (zipPath: string): LobsterData => {
  const zipName = basename(zipPath);
  let entries: Record<string, Uint8Array>;
  let zip: Uint8Array;
  try {
    zip = readFileSync(zipPath);
    entries = unzipSync(zip, {
      filter: (file) => MESSAGE_ENTRY.test(file.name) || ORDERBOOK_ENTRY.test(file.name)
    });
  } catch (cause) {
    if (cause instanceof Error && "code" in cause && (cause as NodeJS.ErrnoException).code === "ENOENT") {
      throw new L2InputError(zipName, 0, `file not found at ${zipPath}`, "check the path of the LOBSTER zip");
    }
    throw new L2InputError(zipName, 0, `not a readable zip (${String(cause)})`, "supply an intact LOBSTER sample zip");
  }
  const names = Object.keys(entries);
  const messageNames = names.filter((n) => MESSAGE_ENTRY.test(n));
  const orderbookNames = names.filter((n) => ORDERBOOK_ENTRY.test(n));
  if (messageNames.length !== 1 || orderbookNames.length !== 1) {
    throw new L2InputError(
      zipName,
      0,
      `expected exactly one *_message_N.csv and one *_orderbook_N.csv entry, found ${messageNames.length} and ${orderbookNames.length}`,
      "supply a zip with one LOBSTER message/orderbook pair"
    );
  }
  const messageName = messageNames[0]!;
  const orderbookName = orderbookNames[0]!;
  const crcs = centralDirectoryCrcs(zip);
  if (crcs === undefined) {
    throw new L2InputError(zipName, 0, "the zip's central directory is damaged", "download the LOBSTER sample again");
  }
  for (const name of [messageName, orderbookName]) {
    const expected = crcs.get(name);
    const actual = crc32(entries[name]!);
    if (expected !== actual) {
      throw new L2InputError(
        zipName,
        0,
        `entry ${name} is corrupt (its CRC-32 is ${actual.toString(16).padStart(8, "0")}, the archive records ${expected === undefined ? "none" : expected.toString(16).padStart(8, "0")})`,
        "download the LOBSTER sample again"
      );
    }
  }
  const data = parseLobsterPair(entries[messageName]!, `${zipName}/${messageName}`, entries[orderbookName]!, `${zipName}/${orderbookName}`);
  return data;
};
