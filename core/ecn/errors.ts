/**
 * Errors of the level-2 data layer (paper section 2.3): every bad input is reported as
 * an `L2InputError` naming the file and the 1-based line, with a sentence saying what to fix, so
 * nothing downstream ever runs on a half-read or malformed book.
 */

/** Bad level-2 input: missing columns, non-numeric cells, crossed/empty books, time going back. */
export class L2InputError extends Error {
  readonly _tag = "L2InputError" as const;
  constructor(
    /** The file (or zip entry) being read. */
    readonly file: string,
    /** 1-based line number in that file, or 0 when the problem is not tied to one line. */
    readonly line: number,
    /** What is wrong, e.g. "expected 6 columns, found 5". */
    readonly problem: string,
    /** What the user should do about it. */
    readonly fix: string
  ) {
    super(`${file}${line > 0 ? `:${line}` : ""}: ${problem}; ${fix}.`);
    this.name = "L2InputError";
  }
}
