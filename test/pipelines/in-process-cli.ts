/** Runs the pipeline CLI in this process and captures what it writes (for tests of quick commands). */
import { vi } from "vitest";
import { main, type PipelineEntry } from "../../core/pipeline/cli.ts";
import { registry } from "../../pipelines/index.ts";

export const inProcessCli =
  (store?: string, entries: ReadonlyArray<PipelineEntry> = registry) =>
  async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    let stdout = "";
    let stderr = "";
    const out = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => ((stdout += String(chunk)), true));
    const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => ((stderr += String(chunk)), true));
    try {
      return { code: await main(store === undefined ? args : [...args, "--store", store], entries), stdout, stderr };
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  };
