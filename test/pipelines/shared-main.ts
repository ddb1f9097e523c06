/**
 * Test entry point: the `shared-diagnostics` pipeline alone through the pipeline CLI, so its test
 * does not load the whole registry.
 */
import { main } from "../../core/pipeline/cli.ts";
import { sharedDiagnostics } from "../../pipelines/shared-diagnostics.ts";

const code = await main(process.argv.slice(2), [
  {
    name: "shared-diagnostics",
    description: sharedDiagnostics.description,
    load: async () => sharedDiagnostics,
    summarize: (node, value) => (node === "shared-report" ? (value as { summary: unknown }).summary : node === "exploitability" ? value : undefined)
  }
]);
process.exitCode = code;
