/**
 * Test entry point: the `emergent-behaviour` pipeline alone through the pipeline CLI, so its test
 * does not load the whole registry.
 */
import { main } from "../../core/pipeline/cli.ts";
import { emergentBehaviour } from "../../pipelines/emergent-behaviour.ts";

const code = await main(process.argv.slice(2), [
  {
    name: "emergent-behaviour",
    description: emergentBehaviour.description,
    load: async () => emergentBehaviour,
    summarize: (node, value) => (node === "emergent-report" ? (value as { summary: unknown }).summary : undefined)
  }
]);
process.exitCode = code;
