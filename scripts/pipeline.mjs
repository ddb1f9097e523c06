#!/usr/bin/env node
/**
 * Launcher of `pnpm pipeline`: runs pipelines/main.ts from an esbuild bundle that is rebuilt
 * whenever a source file is newer than it. Running through tsx costs over a second of start-up
 * per call; the bundle keeps a fully cached re-run well under that. Each module's
 * `import.meta.url` is kept pointing at its source file, because code fingerprints and worker
 * threads need the real paths. `PIPELINE_NO_BUNDLE=1` runs the sources through tsx instead.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// PIPELINE_ENTRY lets benchmarks and tests launch their own registries the same way.
const entry = resolve(root, process.env.PIPELINE_ENTRY ?? join("pipelines", "main.ts"));
const outDir = join(root, "node_modules", ".cache", "otc-pipeline");
// The checkout's path is in the name: two checkouts sharing one node_modules (a symlink, a
// workspace) must never run each other's bundle, whose sources and fingerprints are not theirs.
const checkout = createHash("sha256").update(root).digest("hex").slice(0, 12);
const outFile = join(outDir, `${entry.slice(root.length + 1).replace(/[\\/.]/g, "_")}-${checkout}.mjs`);

const newestSource = () => {
  let newest = statSync(join(root, "package.json")).mtimeMs;
  const walk = (dir) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith(".ts")) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  for (const dir of ["core", "stages", "pipelines", "schemas"]) walk(join(root, dir));
  // Tests run copies of the sources elsewhere and name that tree here.
  if (process.env.PIPELINE_SOURCE_ROOT) walk(resolve(process.env.PIPELINE_SOURCE_ROOT));
  newest = Math.max(newest, statSync(entry).mtimeMs);
  return newest;
};

const bundleIsFresh = () => {
  try {
    return statSync(outFile).mtimeMs >= newestSource();
  } catch {
    return false;
  }
};

const build = async () => {
  const esbuild = await import("esbuild");
  mkdirSync(outDir, { recursive: true });
  const keepSourceUrl = {
    name: "keep-import-meta-url",
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, (args) => {
        const text = readFileSync(args.path, "utf8");
        return { contents: text.replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href)), loader: "ts" };
      });
    }
  };
  // Built under a private name and renamed, so a concurrent launcher never loads a partial bundle.
  const tmpFile = `${outFile}.${process.pid}.tmp.mjs`;
  await esbuild.build({
    entryPoints: [entry],
    outfile: tmpFile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "error",
    external: ["@tensorflow/*", "parquet-wasm", "apache-arrow", "@duckdb/*", "fflate", "esbuild", "tsx", "bullmq", "ioredis"],
    plugins: [keepSourceUrl],
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" }
  });
  renameSync(tmpFile, outFile);
};

if (process.env.PIPELINE_NO_BUNDLE === "1") {
  await import("tsx/esm/api").then((tsx) => tsx.register());
  await import(pathToFileURL(entry).href);
} else {
  if (!bundleIsFresh()) await build();
  await import(pathToFileURL(outFile).href);
}
