/**
 * Fingerprint cost (ARCHITECTURE section 3): ms to fingerprint every .ts module under core/,
 * against a reference measured in the same run: reading and hashing each file once, without
 * following imports. Passes: `newProcessMs`, the first in this fresh process, as a `pipeline`
 * command meets it (the disk cache of compiled forms as earlier processes left it: full from the
 * second bench run on, and edited modules compiled); `coldCompileMs` with nothing memoised and no
 * disk cache (every module compiled by esbuild, as after an esbuild upgrade); `coldMs` with only
 * the disk cache; `warmMs` memoised by path + mtime (only stat calls). Also the files each stage
 * module's fingerprint spans. Prints one JSON object.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { fingerprintModule, resetFingerprintMemo } from "../../core/pipeline/fingerprint.ts";
import { sha256Hex } from "../../core/pipeline/hash.ts";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const modulesUnder = (dir: string, recursive: boolean) =>
  (readdirSync(join(repo, dir), { recursive }) as string[])
    .filter((f) => f.endsWith(".ts"))
    .map((f) => join(repo, dir, f))
    .sort();
const modules = modulesUnder("core", true);

const time = (run: () => void) => {
  const t = performance.now();
  run();
  return performance.now() - t;
};

const newProcessMs = time(() => modules.forEach((m) => fingerprintModule(m)));
resetFingerprintMemo({ diskCache: false });
let filesCovered = 0;
const coldCompileMs = time(() => modules.forEach((m) => (filesCovered += fingerprintModule(m).files.length)));
resetFingerprintMemo();
const coldMs = time(() => modules.forEach((m) => fingerprintModule(m)));
// Reference: best of 5 passes reading and hashing each file once (file cache warm, like the warm pass).
const referenceMs = Math.min(...Array.from({ length: 5 }, () => time(() => modules.forEach((m) => sha256Hex(readFileSync(m))))));
const warmRuns = 5;
const warmMs = time(() => {
  for (let r = 0; r < warmRuns; r++) modules.forEach((m) => fingerprintModule(m));
}) / warmRuns;
const stageFiles = Object.fromEntries(modulesUnder("stages", false).map((m) => [m.slice(repo.length + 1), fingerprintModule(m).files.length]));

const round = (x: number) => Math.round(x * 100) / 100;
console.log(
  JSON.stringify({
    modules: modules.length,
    meanFilesPerFingerprint: round(filesCovered / Math.max(modules.length, 1)),
    newProcessMs: round(newProcessMs),
    coldCompileMs: round(coldCompileMs),
    coldMs: round(coldMs),
    warmMs: round(warmMs),
    warmMsPerModule: round(warmMs / Math.max(modules.length, 1)),
    referenceReadAndHashMs: round(referenceMs),
    newProcessVsReference: round(newProcessMs / referenceMs),
    coldCompileVsReference: round(coldCompileMs / referenceMs),
    coldVsReference: round(coldMs / referenceMs),
    warmVsReference: round(warmMs / referenceMs),
    stageFiles
  })
);
