/**
 * Pipeline `what-if` (paper section 1: "study ... specific what-if scenarios and equilibrium
 * properties, such as impact on a given LP's market share of increasing risk aversion of specific
 * competitors, or of modifying agent connectivity"): the calibrated market of experiment 4, or of
 * the experiment `whatif.from` names (`calibrate-exp1`, ...), with the same nodes and params as
 * that calibration pipeline, so a calibration already run is read from the cache,
 * then, for each scenario under `whatif.scenarios`, the LP policy re-equilibrated in the changed
 * market from the calibrated one (Lambda frozen), the same for the baseline with no change, both
 * markets played on the same episodes and random numbers, and one report comparing them.
 *
 * A scenario is a tree of population edits, one node per scenario, so changing one scenario
 * re-runs only its nodes:
 *   --set whatif.scenarios.riskier.lp.lp2.gamma.mean=4       LP supertype 2 more risk averse
 *   --set whatif.scenarios.cut.lp.lp1.connectivity.lt3=0     LP supertype 1 loses LT supertype 3
 *   --set whatif.scenarios.wide-ecn.ecn.spreadScale=3        the ECN's spread tripled
 *   --set whatif.scenarios.control=null                      drop a scenario
 * Paths, their ranges and the current values: `core/otc/scenario.ts`; a path that names nothing or
 * a value out of range is refused before anything runs (exit 2). `whatif.fromScratch` lists the
 * scenarios that also re-equilibrate from fresh weights, to show what the warm start saves.
 *
 * Quick preset (default): re-equilibration with B = 20 episodes per iteration, a slope check
 * every 5 iterations over a window of 20, then (once the slopes are flat) supertype 1's LP
 * fine-tuned for 10 iterations against the frozen policy and compared on 4 x 20 episodes, at most
 * 200 iterations; 200 evaluation episodes per market. `paper`: the calibration at the paper's
 * scale (calibrate-exp4's paper preset), B = 60, a window of 50, 30 fine-tuning iterations, at
 * most 1,000 iterations, 1,000 evaluation episodes.
 */
import { Either, Schema } from "effect";
import { experimentDefinition, experimentIds, experimentPopulation, isExperiment, type ExperimentId } from "../core/calibration/experiments.ts";
import { applyScenario } from "../core/otc/scenario.ts";
import { getPath, type JsonValue, type ParamTree } from "../core/pipeline/params.ts";
import { Pipeline, PipelineDefinitionError } from "../core/pipeline/pipeline.ts";
import { ScenarioTree, scenarioEdits } from "../schemas/whatif.ts";
import { trainCalsheq, type CalibrationServices } from "../stages/calibration.ts";
import { fitEcnGmm, loadL2 } from "../stages/ecn.ts";
import { trainEcnSimModel } from "../stages/ecn-neural.ts";
import { trainingResources } from "../stages/support/resources.ts";
import { evaluateScenario, fromScratch, reequilibrate, whatIfReport } from "../stages/whatif.ts";
import { calibrationDefaults, convergedCalibration, paperPreset } from "./calibrate.ts";

const EXPERIMENT = 4;
const SCENARIO_NAME = /^[a-z0-9][a-z0-9-]*$/;

const isRecord = (value: JsonValue | undefined): value is { [key: string]: JsonValue } => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The scenarios the params configure, in name order, each checked against the calibrated
 * experiment's population: a bad name, a leaf that is not a number, a path that names nothing or
 * a value out of range is refused with its full path before anything runs.
 */
const configuredScenarios = (params: ParamTree): string[] => {
  const configured = getPath(params, "whatif.scenarios");
  if (!isRecord(configured)) return [];
  const experiment = getPath(params, "calibration.experiment");
  const population = experimentPopulation(typeof experiment === "number" ? experiment : EXPERIMENT);
  const names = Object.keys(configured)
    .filter((name) => configured[name] !== null)
    .sort();
  for (const name of names) {
    if (!SCENARIO_NAME.test(name) || name === "baseline") {
      throw new PipelineDefinitionError({ message: `whatif.scenarios.${name}: a scenario's name is lower-case words joined by dashes, and not "baseline"; rename it.` });
    }
    const tree = Schema.decodeUnknownEither(ScenarioTree)(configured[name]);
    if (Either.isLeft(tree)) {
      const bad = firstNonNumberLeaf(configured[name]!, `whatif.scenarios.${name}`);
      throw new PipelineDefinitionError({ message: `${bad.path}: a scenario's edits are numbers (a path like lp.lp2.gamma.mean=4), got ${JSON.stringify(bad.value)}.` });
    }
    try {
      applyScenario(population, scenarioEdits(tree.right));
    } catch (error) {
      throw new PipelineDefinitionError({ message: `whatif.scenarios.${name}: ${error instanceof Error ? error.message : String(error)}` });
    }
  }
  return names;
};

const firstNonNumberLeaf = (value: JsonValue, path: string): { path: string; value: JsonValue } => {
  if (isRecord(value)) {
    for (const [key, child] of Object.entries(value)) {
      const found = firstNonNumberLeaf(child, `${path}.${key}`);
      if (typeof found.value !== "number") return found;
    }
    return { path, value: 0 };
  }
  return { path, value };
};

const shared = { rule: "whatif.rule", training: "whatif.training" };

const CALIBRATED = /^calibrate-exp(\d+)$/;

/** The experiment of the calibration pipeline `whatif.from` names, if it names one. */
const calibratedExperiment = (params: ParamTree): ExperimentId | undefined => {
  const from = getPath(params, "whatif.from");
  const id = typeof from === "string" ? Number(CALIBRATED.exec(from)?.[1]) : Number.NaN;
  return isExperiment(id) ? id : undefined;
};

/** LP supertype 2's risk aversion at 4, as the field its distribution has in the experiment's population. */
const riskAversionOf4 = (id: ExperimentId): { [field: string]: number } => {
  const gamma = experimentPopulation(id).lp[1]?.gamma;
  return gamma?.kind === "clippedNormal" ? { mean: 4 } : gamma?.kind === "uniform" ? { low: 3.5, high: 4.5 } : { value: 4 };
};

/**
 * Defaults and presets: the calibration's own (those of `calibrate-exp<N>` for `whatif.from`, so its
 * cached results are read), and the what-if settings.
 */
const shapeFor = (asked: ParamTree) => {
  // Unset or unknown: experiment 4's (the build then refuses an unknown one).
  const experiment = experimentDefinition(calibratedExperiment(asked) ?? EXPERIMENT);
  return {
    defaults: {
      ...calibrationDefaults(experiment),
      whatif: {
        from: `calibrate-exp${experiment.id}`,
        baseline: {},
        rule: { window: 20, minIterations: 20, maxIterations: 200, every: 5, driftTolerance: 0, exploitability: { agent: 0, fineTuneIterations: 10, evaluationBatches: 4, stdErrors: 2 } },
        training: { episodes: 20, episodesPerShard: 5 },
        evaluation: { episodes: 200, episodesPerShard: 10, level: 0.95 },
        scenarios: { control: {}, "risk-averse-lp2": { lp: { lp2: { gamma: riskAversionOf4(experiment.id) } } } },
        fromScratch: ["risk-averse-lp2"]
      }
    },
    presets: {
      quick: {},
      // The converged calibration, and re-equilibrations judged on longer windows with a longer deviation test and 1,000 evaluation episodes.
      converged: {
        ...convergedCalibration(experiment),
        whatif: {
          rule: { window: 50, minIterations: 50, maxIterations: 1000, every: 10, exploitability: { fineTuneIterations: 20, evaluationBatches: 5 } },
          evaluation: { episodes: 1000 }
        }
      },
      paper: {
        ...paperPreset(experiment),
        whatif: {
          rule: { window: 50, minIterations: 50, maxIterations: 1000, every: 10, exploitability: { fineTuneIterations: 30, evaluationBatches: 10 } },
          training: { episodes: 60 },
          evaluation: { episodes: 1000 }
        }
      }
    }
  };
};

export const whatIf = Pipeline.make<CalibrationServices>({
  name: "what-if",
  description: "what-if scenarios from the calibrated market: re-equilibration from it, then a comparison on common random numbers (paper section 1)",
  ...shapeFor({}),
  shapeFor,
  resources: trainingResources,
  build: (p, params) => {
    const l2 = p.node("load-l2", loadL2, {}, "ecn.data");
    const model = p.node("fit-ecn-gmm", fitEcnGmm, { l2 }, "ecn.gmm");
    const sim = p.loop("train-ecn-sim-model", trainEcnSimModel, { l2, model }, "ecn");
    const calibrated = p.loop("train-calsheq", trainCalsheq, { model, sim }, "calibration");
    if (calibratedExperiment(params) === undefined) {
      throw new PipelineDefinitionError({
        message: `whatif.from: ${JSON.stringify(getPath(params, "whatif.from"))} is not a calibration pipeline; use one of ${experimentIds().map((id) => `calibrate-exp${id}`).join(", ")}.`
      });
    }
    const scenarios = configuredScenarios(params);
    const asked = getPath(params, "whatif.fromScratch");
    const scratch = scenarios.filter((name) => Array.isArray(asked) && asked.includes(name));
    const baseline = p.loop("reequilibrate-baseline", reequilibrate, { model, sim, calibrated }, { ...shared, scenario: "whatif.baseline" });
    const compared = Object.fromEntries(
      scenarios.map((name) => {
        const scenario = p.loop(`reequilibrate-${name}`, reequilibrate, { model, sim, calibrated }, { ...shared, scenario: `whatif.scenarios.${name}` });
        return [name, p.node(`evaluate-${name}`, evaluateScenario, { model, sim, baseline, scenario }, "whatif.evaluation")];
      })
    );
    const references = Object.fromEntries(
      scratch.map((name) => [`from-scratch:${name}`, p.loop(`from-scratch-${name}`, fromScratch, { model, sim, calibrated }, { ...shared, scenario: `whatif.scenarios.${name}` })])
    );
    p.node("whatif-report", whatIfReport(scenarios, scratch), { ...compared, ...references }, { fromScratch: "whatif.fromScratch", from: "whatif.from" });
  }
});
