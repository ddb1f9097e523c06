/**
 * Pipeline `reproduce`: the paper's checkable claims in one report. It includes the nodes of the
 * pipelines that measure them, each under its own params root, up to the report it needs:
 * `ecn` (ecn-models: table 2), `spectrum` (lt-spectrum: figure 2), `exp1` .. `exp4`
 * (calibrate-exp1..4: table 5, figures 7, 8, 25-32), `emergent` (emergent-behaviour: section 5.2,
 * figures 3, 9-24), with each calibration's `equilibrium-probe` (section 3.1's shared equilibrium
 * for the first LP) and `episode-records` (where the LT flow goes in the calibrated market); then `reproduction-report` tabulates claim, paper, ours, verdict
 * (stages/reproduction-report.ts). Included nodes keep their own cache keys and random streams,
 * so whatever those pipelines already ran with the same params and seed is read from the cache.
 *
 * Presets: `quick` (each pipeline's quick defaults), `converged` (each pipeline's converged
 * preset: training stops on the equilibrium diagnostics), and `tiny` (a smoke test of every stage
 * for the tests; its numbers mean nothing).
 */
import { Pipeline, type Pipeline as PipelineType } from "../core/pipeline/pipeline.ts";
import type { ParamTree } from "../core/pipeline/params.ts";
import { calibrationReport, calibrationReportWithBeside } from "../stages/calibration-report.ts";
import { emergentEquilibriumProbe, equilibriumProbe } from "../stages/equilibrium-probe.ts";
import { episodeRecords } from "../stages/episode-records.ts";
import { fitEcnGmm } from "../stages/ecn.ts";
import { compareEcnModels, scoreEcnModels } from "../stages/ecn-neural.ts";
import { evaluateEmergentStage, trainGame } from "../stages/emergent.ts";
import { emergentReportWith } from "../stages/emergent-report.ts";
import { ltSpectrumReport } from "../stages/lt-spectrum-report.ts";
import { reproductionReport } from "../stages/reproduction-report.ts";
import { trainingResources, type TrainingServices } from "../stages/support/resources.ts";
import { calibrationPipeline } from "./calibrate.ts";
import { ecnModels } from "./ecn-models.ts";
import { emergentBehaviour, replicateCount } from "./emergent-behaviour.ts";
import { ltSpectrum } from "./lt-spectrum.ts";

const calibrations = [1, 2, 3, 4].map((id) => [`exp${id}`, calibrationPipeline(id)] as const);
const parts: ReadonlyArray<readonly [string, PipelineType]> = [["ecn", ecnModels], ["spectrum", ltSpectrum], ...calibrations, ["emergent", emergentBehaviour]];

/** Each included pipeline's tree without its seed (the run has one seed, the including pipeline's). */
const withoutSeed = (tree: ParamTree): ParamTree => Object.fromEntries(Object.entries(tree).filter(([key]) => key !== "seed"));

const presetOf = (name: string): ParamTree => Object.fromEntries(parts.map(([root, pipeline]) => [root, withoutSeed(pipeline.presets[name] ?? {})]));

/** A smoke test of every included stage in about a minute (test/pipelines/reproduce.test.ts). */
const tiny: ParamTree = {
  ecn: { ecn: { data: { rows: 600 }, neural: { train: { maxEpochs: 1, window: 4, lstmUnits: 4, inputWidth: 4, hiddenWidths: [6], components: 2, checkpointEvery: 1 } } } },
  spectrum: { training: { iterations: 2, checkpointEvery: 1, episodes: 2, horizon: 10, ltsPerEpisode: 2, ppo: { hidden: [8], sgdPasses: 1 } }, report: { evaluationEpisodes: 2 } },
  ...Object.fromEntries(calibrations.map(([root, pipeline]) => [root, withoutSeed(pipeline.presets["tiny"] ?? {})])),
  emergent: withoutSeed(emergentBehaviour.presets["tiny"] ?? {}),
  report: { longRange: { draws: 20_000, steps: 40_000, batches: 10 } }
};

export const reproduce = Pipeline.make<TrainingServices>({
  name: "reproduce",
  description: "the paper's checkable claims against our runs: table 2, figures 2, 3, 7, 8, 9-32 and table 5",
  defaults: { seed: 1, ...Object.fromEntries(parts.map(([root, pipeline]) => [root, withoutSeed(pipeline.defaults)])), report: {} },
  presets: { quick: {}, converged: presetOf("converged"), tiny },
  resources: trainingResources,
  build: (p, params) => {
    const ecn = p.include("ecn", ecnModels, "ecn", ["score-ecn-models", "compare-ecn-models"]);
    const spectrum = p.include("spectrum", ltSpectrum, "spectrum", "lt-spectrum-report");
    const experiments = calibrations.map(([root, pipeline]) => {
      // The experiment's own probe node: the same cache entry and episodes as `calibrate-expN` plays.
      const included = p.include(root, pipeline, root, ["calibration-report", "equilibrium-probe", "episode-records"]);
      // The converged preset adds CALSHEQ's other form beside, which changes the report node's stage.
      const report = included.ids.some((id) => id.startsWith("train-calsheq-")) ? included.output("calibration-report", calibrationReportWithBeside) : included.output("calibration-report", calibrationReport);
      return { report, probe: included.output("equilibrium-probe", equilibriumProbe), records: included.output("episode-records", episodeRecords) };
    });
    const emergent = p.include("emergent", emergentBehaviour, "emergent", ["emergent-report", "equilibrium-probe"]);
    const emergentProbe = emergent.output("equilibrium-probe", emergentEquilibriumProbe);
    p.node(
      "reproduction-report",
      reproductionReport,
      {
        model: ecn.output("fit-ecn-gmm", fitEcnGmm),
        ecn: ecn.output("score-ecn-models", scoreEcnModels),
        ecnComparison: ecn.output("compare-ecn-models", compareEcnModels),
        spectrum: spectrum.output("lt-spectrum-report", ltSpectrumReport),
        exp1: experiments[0]!.report,
        exp2: experiments[1]!.report,
        exp3: experiments[2]!.report,
        exp4: experiments[3]!.report,
        records1: experiments[0]!.records,
        records2: experiments[1]!.records,
        records3: experiments[2]!.records,
        records4: experiments[3]!.records,
        probe1: experiments[0]!.probe,
        probe2: experiments[1]!.probe,
        probe3: experiments[2]!.probe,
        probe4: experiments[3]!.probe,
        probeEmergent: emergentProbe,
        emergent: emergent.output("emergent-report", emergentReportWith(replicateCount(params, "emergent"))),
        evaluation: emergent.output("evaluate-emergent", evaluateEmergentStage),
        pnl1v1: emergent.output("game-pnl-1v1", trainGame),
        pnl2v1: emergent.output("game-pnl-2v1", trainGame),
        flow1v1: emergent.output("game-flow-1v1", trainGame)
      },
      "report"
    );
  }
});
