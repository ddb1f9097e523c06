/**
 * The `pnpm pipeline` launcher (scripts/pipeline.mjs) runs an esbuild bundle of the sources it
 * sits beside. Its bundles live in node_modules/.cache, which two checkouts can share (a
 * symlinked node_modules, a workspace): each checkout must still run its own sources, or its
 * code fingerprints and results would be the other checkout's.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repo } from "../pipelines/cli.ts";

const sandboxes: string[] = [];
const cache = join(repo, "node_modules", ".cache", "otc-pipeline");
const checkoutTag = (root: string) => createHash("sha256").update(root).digest("hex").slice(0, 12);

/** A checkout holding only the launcher and an entry that prints `name`, sharing the project's node_modules. */
const makeCheckout = (name: string): string => {
  const dir = join(repo, ".pipeline-tmp", `launcher-${process.pid}-${name}-${Date.now()}`);
  mkdirSync(join(dir, "scripts"), { recursive: true });
  mkdirSync(join(dir, "pipelines"), { recursive: true });
  cpSync(join(repo, "scripts", "pipeline.mjs"), join(dir, "scripts", "pipeline.mjs"));
  writeFileSync(join(dir, "package.json"), "{}\n");
  writeFileSync(join(dir, "pipelines", "main.ts"), `const checkout: string = ${JSON.stringify(name)};\nconsole.log(checkout);\n`);
  symlinkSync(join(repo, "node_modules"), join(dir, "node_modules"), "dir");
  sandboxes.push(dir);
  return dir;
};

const launch = (dir: string): string => {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.PIPELINE_ENTRY;
  delete env.PIPELINE_SOURCE_ROOT;
  delete env.PIPELINE_NO_BUNDLE;
  const result = spawnSync(process.execPath, [join(dir, "scripts", "pipeline.mjs")], { cwd: dir, env, encoding: "utf8" });
  expect(result.status, result.stderr).toBe(0);
  return result.stdout.trim();
};

afterAll(() => {
  for (const dir of sandboxes) {
    const tag = checkoutTag(dir);
    if (existsSync(cache)) for (const f of readdirSync(cache)) if (f.includes(tag)) rmSync(join(cache, f), { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

describe("pipeline launcher", () => {
  it("two checkouts sharing node_modules each run their own sources", () => {
    // Both checkouts exist before either builds, so each one's sources are older than the other's bundle.
    const first = makeCheckout("first");
    const second = makeCheckout("second");
    expect(launch(first)).toBe("first");
    expect(launch(second)).toBe("second");
    expect(launch(first)).toBe("first");
  }, 60_000);
});
