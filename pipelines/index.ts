/**
 * The registry of the project's pipelines: names and one-line descriptions are here so that
 * `pipeline list` answers without loading any pipeline; each pipeline module is imported only
 * when it is run or shown.
 */
import type { PipelineEntry } from "../core/pipeline/cli.ts";

export const registry: ReadonlyArray<PipelineEntry> = [
  {
    name: "ecn-fit",
    description: "fit the vanilla Gaussian-mixture ECN model to level-2 data and report it",
    load: async () => (await import("./ecn-fit.ts")).ecnFit,
    summarize: (node, value) => {
      if (node !== "fit-ecn-gmm") return undefined;
      const model = value as { scores: unknown; bic: unknown; alpha: number; data: string };
      return { scores: model.scores, bic: model.bic, alpha: model.alpha, data: model.data };
    }
  }
];
