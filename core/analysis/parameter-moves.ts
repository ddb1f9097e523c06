/**
 * How far a calibrator moved its supertype profile (paper section 5.1, figures 29-32: CALSHEQ
 * moves the parameters smoothly, BO jumps): the largest change of any calibrated parameter's mean
 * between consecutive iterations, in units of that parameter's range. Read from the training rows,
 * which log each parameter's particle mean as `params/<name>/mean`.
 */

/** Largest change of any parameter's mean between consecutive `rows`, each in units of its range `widths[i]`. */
export const largestParameterMove = (
  names: readonly string[],
  widths: ArrayLike<number>,
  rows: ReadonlyArray<Readonly<Record<string, number | undefined>>>
): number => {
  let largest = 0;
  for (let k = 1; k < rows.length; k++) {
    names.forEach((name, i) => {
      const a = rows[k - 1]![`params/${name}/mean`];
      const b = rows[k]![`params/${name}/mean`];
      if (a !== undefined && b !== undefined) largest = Math.max(largest, Math.abs(b - a) / widths[i]!);
    });
  }
  return largest;
};
