/**
 * The README's library example runs as a user runs it (`pnpm example`, importing the package's
 * `otc-marl/env` export), plays both hand-written rules on the same episodes, and the
 * inventory-aware rule, which hedges and skews against its inventory, holds less inventory than
 * the naive one that does neither.
 */
import { spawnSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

describe("examples/custom-agent.ts", { timeout: 120_000 }, () => {
  it("plays a custom LP through the package's env export", () => {
    const run = spawnSync(process.execPath, [join(repo, "node_modules/tsx/dist/cli.mjs"), "examples/custom-agent.ts", "1"], { cwd: repo, encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    const inventory = (rule: string) => Number(new RegExp(`^${rule}\\s.*mean \\|inventory\\| ([0-9.]+)`, "m").exec(run.stdout)?.[1]);
    expect(inventory("naive")).toBeGreaterThan(0);
    expect(inventory("inventory-aware")).toBeLessThan(inventory("naive"));
  });
});
