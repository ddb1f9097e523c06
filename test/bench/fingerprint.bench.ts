/**
 * Fingerprint cost (ARCHITECTURE section 3): ms to fingerprint every .ts module under core/, cold
 * (first pass in a fresh process: files read, scanned and hashed) and warm (memoised by path +
 * mtime: only stat calls), against a reference measured in the same run: reading and hashing each
 * file once, without following imports. Prints one JSON object.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { fingerprintModule } from "../../core/pipeline/fingerprint.ts";
import { sha256Hex } from "../../core/pipeline/hash.ts";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const modules = (readdirSync(join(repo, "core"), { recursive: true }) as string[])
  .filter((f) => f.endsWith(".ts"))
  .map((f) => join(repo, "core", f))
  .sort();

const time = (run: () => void) => {
  const t = performance.now();
  run();
  return performance.now() - t;
};

let filesCovered = 0;
const coldMs = time(() => modules.forEach((m) => (filesCovered += fingerprintModule(m).files.length)));
// Reference: best of 5 passes reading and hashing each file once (file cache warm, like the warm pass).
const referenceMs = Math.min(...Array.from({ length: 5 }, () => time(() => modules.forEach((m) => sha256Hex(readFileSync(m))))));
const warmRuns = 5;
const warmMs = time(() => {
  for (let r = 0; r < warmRuns; r++) modules.forEach((m) => fingerprintModule(m));
}) / warmRuns;

const round = (x: number) => Math.round(x * 100) / 100;
console.log(
  JSON.stringify({
    modules: modules.length,
    meanFilesPerFingerprint: round(filesCovered / Math.max(modules.length, 1)),
    coldMs: round(coldMs),
    warmMs: round(warmMs),
    warmMsPerModule: round(warmMs / Math.max(modules.length, 1)),
    referenceReadAndHashMs: round(referenceMs),
    coldVsReference: round(coldMs / referenceMs),
    warmVsReference: round(warmMs / referenceMs)
  })
);
