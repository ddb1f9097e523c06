/** Entry point for the lt-spectrum pipeline test and manual runs: the pipeline CLI with the lt-spectrum entry only (the lead adds it to pipelines/index.ts). */
import { main } from "../../core/pipeline/cli.ts";

const code = await main(process.argv.slice(2), [
  {
    name: "lt-spectrum",
    description: "figure 2: the shared LT policy's actions as a function of its PnL weight omega",
    load: async () => (await import("../../pipelines/lt-spectrum.ts")).ltSpectrum,
    summarize: (node, value) => (node === "lt-spectrum-report" ? (value as { summary: unknown }).summary : undefined)
  }
]);
process.exitCode = code;
