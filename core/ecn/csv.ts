/**
 * A fast, strict reader of all-numeric CSV files over raw bytes, the common layer under the
 * LOBSTER and snapshot readers of level-2 data (paper section 2.3 fits its model on such level-2
 * data). Numbers are scanned by hand (no `split`, no per-cell `parseFloat`): a decimal with at
 * most 15 significant digits and no exponent is converted with the exact fast path
 * `mantissa / 10^k` (both operands exact doubles, so the quotient is the correctly rounded value,
 * identical to `parseFloat`); anything longer falls back to `Number()` on that cell. A cell of
 * more than 40 characters is refused rather than read: 17 significant digits already identify
 * every double, so such a cell is padding or, more likely, corruption (two numbers run together
 * after a lost separator). Every malformed cell or short/long row is an `L2InputError` with file
 * and 1-based line.
 */
import { L2InputError } from "./errors.ts";

const COMMA = 44;
const LF = 10;
const CR = 13;
const MINUS = 45;
const PLUS = 43;
const DOT = 46;
const DIGIT_0 = 48;
const DIGIT_9 = 57;
const SPACE = 32;
const TAB = 9;

const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

/** A row-major numeric table read from a CSV file. */
export interface NumericTable {
  readonly rows: number;
  readonly columns: number;
  /** rows x columns values, row-major. */
  readonly values: Float64Array;
  /** 1-based line number in the file of each data row (lets later checks name the line). */
  readonly lines: Int32Array;
}

export interface ReadNumericCsvOptions {
  /** Expected number of columns; when absent, the first data row decides. */
  readonly columns?: number;
  /** Byte offset where data starts (after a header line). */
  readonly start?: number;
  /** 1-based line number of the line at `start`. */
  readonly firstLine?: number;
}

const decoder = new TextDecoder();

/** Longest numeric cell read, in characters (see the module comment). */
export const MAX_CELL_CHARS = 40;

/** A cell's text for an error message, shortened past `MAX_CELL_CHARS`. */
const cellText = (bytes: Uint8Array, from: number, to: number): string =>
  decoder.decode(bytes.subarray(from, Math.min(to, from + MAX_CELL_CHARS))) + (to - from > MAX_CELL_CHARS ? "..." : "");

/** Counts lines to preallocate (an upper bound on rows). */
const countLines = (bytes: Uint8Array, start: number): number => {
  let n = 1;
  for (let i = start; i < bytes.length; i++) if (bytes[i] === LF) n++;
  return n;
};

/**
 * Parses an all-numeric CSV body. Blank lines are only allowed at the end of the file.
 * Throws `L2InputError` for a wrong column count or a cell that is not a finite decimal number.
 */
export const readNumericCsv = (
  bytes: Uint8Array,
  file: string,
  options: ReadNumericCsvOptions = {}
): NumericTable => {
  const length = bytes.length;
  let pos = options.start ?? 0;
  let line = options.firstLine ?? 1;
  let columns = options.columns ?? -1;
  const capacityRows = countLines(bytes, pos);
  let values = new Float64Array(columns > 0 ? capacityRows * columns : 0);
  const lines = new Int32Array(capacityRows);
  let rows = 0;

  while (pos < length) {
    // A blank line: legal only if everything after it is blank too (trailing newlines).
    if (bytes[pos] === LF || bytes[pos] === CR) {
      let rest = pos;
      while (rest < length && (bytes[rest] === LF || bytes[rest] === CR || bytes[rest] === SPACE)) rest++;
      if (rest === length) break;
      throw new L2InputError(file, line, "blank line inside the data", "remove the empty line");
    }
    let column = 0;
    if (columns < 0) {
      // First row decides the width.
      let commas = 0;
      for (let i = pos; i < length && bytes[i] !== LF; i++) if (bytes[i] === COMMA) commas++;
      columns = commas + 1;
      values = new Float64Array(capacityRows * columns);
    }
    const base = rows * columns;
    for (;;) {
      // One cell.
      while (pos < length && (bytes[pos] === SPACE || bytes[pos] === TAB)) pos++;
      const cellStart = pos;
      let negative = false;
      let c = bytes[pos];
      if (c === MINUS || c === PLUS) {
        negative = c === MINUS;
        pos++;
      }
      let mantissa = 0;
      let digits = 0;
      let significant = 0;
      let fractionDigits = 0;
      let sawDot = false;
      let slow = false;
      for (; pos < length; pos++) {
        c = bytes[pos]!;
        if (c >= DIGIT_0 && c <= DIGIT_9) {
          digits++;
          if (significant > 0 || c !== DIGIT_0) significant++;
          mantissa = mantissa * 10 + (c - DIGIT_0);
          if (sawDot) fractionDigits++;
        } else if (c === DOT && !sawDot) {
          sawDot = true;
        } else if (c === 101 || c === 69) {
          // exponent: handled by the slow path below
          slow = true;
          pos++;
          if (bytes[pos] === MINUS || bytes[pos] === PLUS) pos++;
          while (pos < length && bytes[pos]! >= DIGIT_0 && bytes[pos]! <= DIGIT_9) pos++;
          break;
        } else break;
      }
      const cellEnd = pos;
      while (pos < length && (bytes[pos] === SPACE || bytes[pos] === TAB || bytes[pos] === CR)) pos++;
      const next = pos < length ? bytes[pos]! : LF;
      if (digits === 0 || (next !== COMMA && next !== LF)) {
        let end = pos;
        while (end < length && bytes[end] !== COMMA && bytes[end] !== LF) end++;
        throw new L2InputError(
          file,
          line,
          `column ${column + 1} is not a number: "${cellText(bytes, cellStart, end).trim()}"`,
          "fix or remove the row so that every cell is a plain decimal number"
        );
      }
      if (cellEnd - cellStart > MAX_CELL_CHARS) {
        throw new L2InputError(
          file,
          line,
          `column ${column + 1} holds a number of ${cellEnd - cellStart} characters ("${cellText(bytes, cellStart, cellEnd)}"), more than the ${MAX_CELL_CHARS} this reader accepts`,
          "check the cell for a lost separator, or write the number with at most 17 significant digits"
        );
      }
      let value: number;
      if (slow || significant > 15 || fractionDigits > 22) {
        value = Number(decoder.decode(bytes.subarray(cellStart, cellEnd)));
        if (!Number.isFinite(value)) {
          throw new L2InputError(file, line, `column ${column + 1} is not a finite number`, "fix the cell");
        }
      } else {
        value = fractionDigits > 0 ? mantissa / POW10[fractionDigits]! : mantissa;
        if (negative) value = -value;
      }
      if (column < columns) values[base + column] = value;
      column++;
      pos++; // past the comma or newline
      if (next === LF) break;
    }
    if (column !== columns) {
      throw new L2InputError(
        file,
        line,
        `expected ${columns} columns, found ${column}`,
        column < columns ? "the row has missing columns; supply every column" : "remove the extra columns"
      );
    }
    lines[rows] = line;
    rows++;
    line++;
  }
  if (columns < 0) columns = options.columns ?? 0;
  return {
    rows,
    columns,
    values: values.subarray(0, rows * columns),
    lines: lines.subarray(0, rows)
  };
};

/** Splits the first line off `bytes`: its text and the byte offset of the second line. */
export const firstLine = (bytes: Uint8Array): { text: string; next: number } => {
  let end = 0;
  while (end < bytes.length && bytes[end] !== LF) end++;
  const text = decoder.decode(bytes.subarray(0, end)).replace(/\r$/, "");
  return { text, next: Math.min(end + 1, bytes.length) };
};
