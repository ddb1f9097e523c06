/**
 * The code version of rollout work (ARCHITECTURE section 5): a short SHA-256 over every source
 * file under `core/` (path and content) and the lockfile that pins tfjs and the other libraries.
 * A rollout job carries the version of the coordinator that made it; a worker process on another
 * checkout computes a different version and refuses the job rather than mixing results of other
 * code into a run. Computed once per process, when first asked: restart worker processes after
 * updating a host's checkout.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const repositoryRoot = fileURLToPath(new URL("../../", import.meta.url));

const sourceFiles = (dir: string): string[] => {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mts|mjs|js|json)$/.test(name)) out.push(path);
  }
  return out;
};

let cached: string | undefined;

/** This checkout's rollout code version: 16 hex digits. */
export const rolloutCodeVersion = (): string => {
  if (cached !== undefined) return cached;
  const hash = createHash("sha256");
  const files = sourceFiles(join(repositoryRoot, "core"));
  const lockfile = join(repositoryRoot, "pnpm-lock.yaml");
  try {
    statSync(lockfile);
    files.push(lockfile);
  } catch {
    // An installed copy without its lockfile: the sources alone identify it.
  }
  for (const file of files) {
    hash.update(relative(repositoryRoot, file).split("\\").join("/"));
    hash.update("\0");
    hash.update(readFileSync(file));
    hash.update("\0");
  }
  cached = hash.digest("hex").slice(0, 16);
  return cached;
};
