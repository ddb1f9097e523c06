import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/bench/**", "node_modules/**"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Vitest's default of cores - 1 leaves one test file at a time on a 2-core machine; most files
    // are single-threaded, so two side by side use both cores (the suite measured 547 s against 602 s).
    maxWorkers: Math.max(2, availableParallelism() - 1),
    minWorkers: 1,
    setupFiles: ["test/setup-fast-check.ts"]
  }
});
