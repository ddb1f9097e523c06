import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { unzipSync, zipSync } from "fflate";
import { readFileSync } from "node:fs";
import { readNumericCsv } from "../../core/ecn/csv.ts";
import { crc32, crc32Js, L2InputError, readLobsterCsvPair, readLobsterZip } from "../../core/ecn/lobster.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const dataDir = path.resolve(repoRoot, "../shared/data");
const amznZip = path.join(dataDir, "lobster/LOBSTER_SampleFile_AMZN_2012-06-21_5.zip");
const haveData = existsSync(amznZip);
if (!haveData) console.warn(`[ecn/lobster] LOBSTER samples not found at ${dataDir}; real-data tests skipped.`);

const encode = (s: string) => new TextEncoder().encode(s);

const tmp = mkdtempSync(path.join(tmpdir(), "ecn-lobster-"));
const writePair = (name: string, messages: string, book: string) => {
  const m = path.join(tmp, `${name}_message_1.csv`);
  const b = path.join(tmp, `${name}_orderbook_1.csv`);
  writeFileSync(m, messages);
  writeFileSync(b, book);
  return [m, b] as const;
};

const expectL2Error = (f: () => unknown, file: string, line: number) => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(L2InputError);
    const err = e as L2InputError;
    expect(err._tag).toBe("L2InputError");
    expect(err.message).toContain(file);
    expect(err.line).toBe(line);
    expect(err.message).toContain(`:${line}`);
    return err;
  }
  throw new Error("expected an L2InputError");
};

describe("readNumericCsv", () => {
  it("reads every finite double exactly as Number() does", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 8 }), (xs) => {
        const text = xs.map((x) => String(x)).join(",") + "\n";
        const t = readNumericCsv(encode(text), "x.csv");
        expect(t.rows).toBe(1);
        expect(t.columns).toBe(xs.length);
        xs.forEach((x, i) => expect(Object.is(t.values[i], x === 0 ? 0 : x) || t.values[i] === x).toBe(true));
      })
    );
  });

  it("reads fixed-point decimals like LOBSTER times exactly", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 86399 }), fc.integer({ min: 0, max: 999_999_999 }), (s, ns) => {
        const cell = `${s}.${String(ns).padStart(9, "0")}`;
        const t = readNumericCsv(encode(`${cell},-${cell}\r\n`), "x.csv");
        expect(t.values[0]).toBe(Number(cell));
        expect(t.values[1]).toBe(-Number(cell));
      })
    );
  });

  it("accepts a last line without newline and trailing blank lines", () => {
    expect(readNumericCsv(encode("1,2\n3,4"), "x.csv").rows).toBe(2);
    expect(readNumericCsv(encode("1,2\n3,4\n\n\n"), "x.csv").rows).toBe(2);
  });

  it("rejects empty cells, text, a blank line in the middle", () => {
    expectL2Error(() => readNumericCsv(encode("1,2\n3,\n"), "x.csv"), "x.csv", 2);
    expectL2Error(() => readNumericCsv(encode("1,2\n3,abc\n"), "x.csv"), "x.csv", 2);
    expectL2Error(() => readNumericCsv(encode("1,2\n3,4.5.6\n"), "x.csv"), "x.csv", 2);
    expectL2Error(() => readNumericCsv(encode("1,2\n\n3,4\n"), "x.csv"), "x.csv", 2);
  });
});

describe("LOBSTER readers: bad input", () => {
  const goodMessages = "34200.1,1,11,100,2239500,-1\n34200.1,1,12,50,2231800,1\n34200.5,3,11,100,2239500,-1\n";
  const goodBook = "2239500,100,2231800,100\n2239500,100,2231800,150\n2239600,20,2231800,150\n";

  it("reads a good pair (equal times are legal)", () => {
    const [m, b] = writePair("good", goodMessages, goodBook);
    const d = readLobsterCsvPair(m, b);
    expect(d.messages.length).toBe(3);
    expect(Array.from(d.messages.type)).toEqual([1, 1, 3]);
    expect(Array.from(d.messages.direction)).toEqual([-1, 1, -1]);
    expect(d.orderbook.levels).toBe(1);
    expect(Array.from(d.orderbook.bidSize)).toEqual([100, 150, 150]);
    expect(d.messageFile).toBe("good_message_1.csv");
  });

  it("names file and line of a missing column", () => {
    const [m, b] = writePair("missing", goodMessages.replace("34200.5,3,11,100,2239500,-1", "34200.5,3,11,100,2239500"), goodBook);
    const err = expectL2Error(() => readLobsterCsvPair(m, b), "missing_message_1.csv", 3);
    expect(err.message).toMatch(/missing columns/);
  });

  it("names file and line of a short orderbook row", () => {
    const [m, b] = writePair("shortbook", goodMessages, goodBook.replace("2239500,100,2231800,150\n", "2239500,100,2231800\n"));
    expectL2Error(() => readLobsterCsvPair(m, b), "shortbook_orderbook_1.csv", 2);
  });

  it("names file and line of a non-numeric cell", () => {
    const [m, b] = writePair("text", goodMessages.replace("12,50", "12,fifty"), goodBook);
    expectL2Error(() => readLobsterCsvPair(m, b), "text_message_1.csv", 2);
  });

  it("rejects decreasing time", () => {
    const [m, b] = writePair("back", goodMessages.replace("34200.5", "34200.0"), goodBook);
    const err = expectL2Error(() => readLobsterCsvPair(m, b), "back_message_1.csv", 3);
    expect(err.message).toMatch(/earlier/);
  });

  it("rejects a row-count mismatch", () => {
    const [m, b] = writePair("count", goodMessages, goodBook.split("\n").slice(0, 2).join("\n") + "\n");
    const err = expectL2Error(() => readLobsterCsvPair(m, b), "count_orderbook_1.csv", 3);
    expect(err.message).toMatch(/2 rows but/);
  });

  it("rejects an unknown event type and direction", () => {
    const [m, b] = writePair("type", goodMessages.replace("34200.5,3", "34200.5,6"), goodBook);
    expectL2Error(() => readLobsterCsvPair(m, b), "type_message_1.csv", 3);
    const [m2, b2] = writePair("dir", goodMessages.replace("2231800,1\n", "2231800,0\n"), goodBook);
    expectL2Error(() => readLobsterCsvPair(m2, b2), "dir_message_1.csv", 2);
  });

  it("reports a missing zip", () => {
    expect(() => readLobsterZip(path.join(tmp, "nope.zip"))).toThrow(L2InputError);
  });
});

describe.skipIf(!haveData)("LOBSTER readers: real AMZN sample", () => {
  it("matches a naive split/Number parse of every cell", () => {
    const d = readLobsterZip(amznZip);
    const entries = unzipSync(readFileSync(amznZip));
    const name = (re: RegExp) => Object.keys(entries).find((n) => re.test(n))!;
    const msgLines = new TextDecoder().decode(entries[name(/_message_5\.csv$/)]!).trim().split("\n");
    const bookLines = new TextDecoder().decode(entries[name(/_orderbook_5\.csv$/)]!).trim().split("\n");
    expect(d.messages.length).toBe(msgLines.length);
    expect(d.orderbook.rows).toBe(bookLines.length);
    expect(d.orderbook.levels).toBe(5);
    let mismatches = 0;
    for (let r = 0; r < msgLines.length; r++) {
      const c = msgLines[r]!.split(",").map(Number);
      if (c[0] !== d.messages.time[r] || c[1] !== d.messages.type[r] || c[2] !== d.messages.orderId[r]) mismatches++;
      if (c[3] !== d.messages.size[r] || c[4] !== d.messages.price[r] || c[5] !== d.messages.direction[r]) mismatches++;
    }
    for (let r = 0; r < bookLines.length; r++) {
      const c = bookLines[r]!.split(",").map(Number);
      for (let k = 0; k < 5; k++) {
        const i = r * 5 + k;
        if (c[4 * k] !== d.orderbook.askPrice[i] || c[4 * k + 1] !== d.orderbook.askSize[i]) mismatches++;
        if (c[4 * k + 2] !== d.orderbook.bidPrice[i] || c[4 * k + 3] !== d.orderbook.bidSize[i]) mismatches++;
      }
    }
    expect(mismatches).toBe(0);
  });
});

describe("corrupt input is refused, never read as numbers", () => {
  const goodMessages = "34200.1,1,11,100,2239500,-1\n34200.1,1,12,50,2231800,1\n34200.5,3,11,100,2239500,-1\n";
  const goodBook = "2239500,100,2231800,100\n2239500,100,2231800,150\n2239600,20,2231800,150\n";

  it("names file, line and column of a number longer than 40 characters", () => {
    // 43 significant digits: the reader used to keep the first 40 and read 1e39 for 1e42.
    const long = "1234567890123456789012345678901234567890123";
    const err = expectL2Error(() => readNumericCsv(encode(`1,2\n3,${long}\n`), "x.csv"), "x.csv", 2);
    expect(err.message).toMatch(/column 2 holds a number of 43 characters/);
    // Padding counts too: the limit is on what the file holds, not on the value.
    expectL2Error(() => readNumericCsv(encode(`0.${"0".repeat(40)}1,2\n`), "x.csv"), "x.csv", 1);
  });

  it("reads every decimal of at most 40 characters as Number() does and refuses every longer one", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^-?\d{1,30}(\.\d{1,25})?$/), fc.integer({ min: 1, max: 5 }), (cell, line) => {
        const text = "1,2\n".repeat(line - 1) + `7,${cell}\n`;
        if (cell.length <= 40) return readNumericCsv(encode(text), "p.csv").values[2 * (line - 1) + 1] === Number(cell);
        try {
          readNumericCsv(encode(text), "p.csv");
          return false;
        } catch (e) {
          return e instanceof L2InputError && e.line === line && e.message.startsWith(`p.csv:${line}: column 2 holds a number of ${cell.length} characters`);
        }
      })
    );
  });

  it("still reads a 40-character number exactly as Number() does", () => {
    const cell = `1.${"2".repeat(38)}`;
    expect(cell.length).toBe(40);
    expect(readNumericCsv(encode(`${cell},-${cell.slice(1)}\n`), "x.csv").values[0]).toBe(Number(cell));
  });

  /** The error of a whole-file problem: it names the file and no line. */
  const expectFileError = (f: () => unknown, file: string): L2InputError => {
    let thrown: unknown;
    try {
      f();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(L2InputError);
    const err = thrown as L2InputError;
    expect(err.file).toBe(file);
    expect(err.line).toBe(0);
    expect(err.message.startsWith(`${file}: `)).toBe(true);
    return err;
  };

  /** A zip of one message/orderbook pair stored uncompressed, so a flipped byte still inflates. */
  const storedZip = (messages: Uint8Array, book: Uint8Array, name = "T") =>
    zipSync({ [`${name}_message_1.csv`]: [messages, { level: 0 }], [`${name}_orderbook_1.csv`]: [book, { level: 0 }] });

  /** Changes one digit of `text`'s bytes at the first occurrence of `find` inside `zip`. */
  const changeDigit = (zip: Uint8Array, find: string, replace: string): Uint8Array => {
    const out = zip.slice();
    const needle = encode(find);
    const at = out.findIndex((_, i) => needle.every((b, j) => out[i + j] === b));
    expect(at).toBeGreaterThanOrEqual(0);
    out.set(encode(replace), at);
    return out;
  };

  it("reads an intact zip (the check passes on good data)", () => {
    const file = path.join(tmp, "intact.zip");
    writeFileSync(file, storedZip(encode(goodMessages), encode(goodBook)));
    expect(readLobsterZip(file).messages.length).toBe(3);
  });

  it("refuses a zip entry whose bytes do not match the CRC-32 the archive records", () => {
    // "12,50" -> "12,90": still a valid LOBSTER file, so only the CRC can tell.
    const file = path.join(tmp, "badcrc.zip");
    writeFileSync(file, changeDigit(storedZip(encode(goodMessages), encode(goodBook)), "12,50", "12,90"));
    const err = expectFileError(() => readLobsterZip(file), "badcrc.zip");
    expect(err.message).toMatch(/entry T_message_1\.csv is corrupt/);
    expect(err.message).toMatch(/download the LOBSTER sample again/);
  });

  it("computes the standard CRC-32 (check value of '123456789') in both implementations", () => {
    expect(crc32(encode("123456789"))).toBe(0xcbf43926);
    expect(crc32Js(encode("123456789"))).toBe(0xcbf43926);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => crc32Js(bytes) === crc32(bytes)));
  });

  it.skipIf(!haveData)("refuses a real LOBSTER sample with one changed digit", () => {
    // The AMZN sample's entries, re-packed uncompressed so that the changed byte still inflates
    // to a well-formed file: one size in the first message, off by one digit.
    const entries = unzipSync(readFileSync(amznZip));
    const message = Object.keys(entries).find((n) => /_message_5\.csv$/.test(n))!;
    const book = Object.keys(entries).find((n) => /_orderbook_5\.csv$/.test(n))!;
    const zip = zipSync({ [message]: [entries[message]!, { level: 0 }], [book]: [entries[book]!, { level: 0 }] });
    const firstLine = new TextDecoder().decode(entries[message]!.subarray(0, 80)).split("\n")[0]!;
    const cells = firstLine.split(",");
    const changed = [...cells.slice(0, 3), cells[3]!.replace(/\d$/, (d) => String((Number(d) + 1) % 10)), ...cells.slice(4)].join(",");
    const file = path.join(tmp, "AMZN_changed.zip");
    writeFileSync(file, changeDigit(zip, firstLine, changed));
    const err = expectFileError(() => readLobsterZip(file), "AMZN_changed.zip");
    expect(err.message).toContain(`entry ${message} is corrupt`);
  });
});
