/**
 * `pnpm bench [name...]`: runs every benchmark in test/bench (files named `*.bench.ts`), or the
 * named ones, one after another in fresh Node processes, and prints each one's JSON figures.
 * Benchmarks are not tests: they measure, print, and never fail on a slow machine.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort();
if (files.length === 0) {
  console.error(`No benchmark matches ${wanted.join(", ")}; available: ${readdirSync(here).filter((f) => f.endsWith(".bench.ts")).join(", ")}`);
  process.exit(2);
}
let failed = 0;
for (const file of files) {
  console.error(`bench: ${file}`);
  const result = spawnSync(process.execPath, ["--import", "tsx", join(here, file)], { stdio: "inherit" });
  if (result.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
