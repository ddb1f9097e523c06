/**
 * The registry of the project's pipelines: names and one-line descriptions are here so that
 * `pipeline list` answers without loading any pipeline; each pipeline module is imported only
 * when it is run or shown.
 */
import { experimentIds, type ExperimentId } from "../core/calibration/experiments.ts";
import type { PipelineEntry } from "../core/pipeline/cli.ts";

/** The experiment of the main job (README), listed first. */
const MAIN_EXPERIMENT: ExperimentId = 4;

const calibration = (experiment: ExperimentId): PipelineEntry => ({
  name: `calibrate-exp${experiment}`,
  description: `calibration experiment ${experiment}: CALSHEQ vs Bayesian optimisation (paper section 5.1)${experiment === MAIN_EXPERIMENT ? " - the main job" : ""}`,
  load: async () => (await import("./calibrate.ts")).calibrationPipeline(experiment),
  summarize: (node, value) => {
    if (node === "calibration-report") return (value as { summary: unknown }).summary;
    if (node === "fit-ecn-gmm") return ecnSummary(value);
    return undefined;
  }
});

const ecnSummary = (value: unknown) => {
  const model = value as { scores: unknown; bic: unknown; alpha: number; data: string };
  return { scores: model.scores, bic: model.bic, alpha: model.alpha, data: model.data };
};

export const registry: ReadonlyArray<PipelineEntry> = [
  ...[MAIN_EXPERIMENT, ...experimentIds().filter((id) => id !== MAIN_EXPERIMENT)].map(calibration),
  {
    name: "what-if",
    description: "what-if scenarios from the calibrated experiment-4 market: re-equilibrate, compare on common random numbers (paper section 1)",
    load: async () => (await import("./what-if.ts")).whatIf,
    summarize: (node, value) => (node === "whatif-report" ? (value as { summary: unknown }).summary : undefined)
  },
  {
    name: "ecn-models",
    description: "vanilla vs neural ECN models (LSTM mixture density, fixed/shared correlation): table 2",
    load: async () => (await import("./ecn-models.ts")).ecnModels,
    summarize: (node, value) => {
      if (node === "score-ecn-models") {
        const { rows, paperOrderingOnTest, data } = value as { rows: unknown; paperOrderingOnTest: boolean; data: string };
        return { rows, paperOrderingOnTest, data };
      }
      return node === "fit-ecn-gmm" ? ecnSummary(value) : undefined;
    }
  },
  {
    name: "lt-spectrum",
    description: "figure 2: the shared LT policy's actions as a function of its PnL weight omega",
    load: async () => (await import("./lt-spectrum.ts")).ltSpectrum,
    summarize: (node, value) => (node === "lt-spectrum-report" ? (value as { summary: unknown }).summary : undefined)
  },
  {
    name: "shared-diagnostics",
    description: "shared LP/LT policies: reward over training per supertype and exploitability (section 3.1)",
    load: async () => (await import("./shared-diagnostics.ts")).sharedDiagnostics,
    summarize: (node, value) =>
      node === "shared-report" ? (value as { summary: unknown }).summary : node === "exploitability" ? value : undefined
  },
  {
    name: "emergent-behaviour",
    description: "section 5.2 emergent LP behaviour vs its attributes, figure 6 game weights, findings (paper section 5.2)",
    load: async () => (await import("./emergent-behaviour.ts")).emergentBehaviour,
    summarize: (node, value) => (node === "emergent-report" ? (value as { summary: unknown }).summary : undefined)
  },
  {
    name: "reproduce",
    description: "the paper's checkable claims against our runs: table 2, figures 2, 3, 7, 8, 9-32 and table 5",
    load: async () => (await import("./reproduce.ts")).reproduce,
    summarize: (node, value) => (node === "reproduction-report" ? (value as { summary: unknown }).summary : undefined)
  },
  {
    name: "ecn-fit",
    description: "fit the vanilla Gaussian-mixture ECN model to level-2 data and report it",
    load: async () => (await import("./ecn-fit.ts")).ecnFit,
    summarize: (node, value) => (node === "fit-ecn-gmm" ? ecnSummary(value) : undefined)
  }
];
