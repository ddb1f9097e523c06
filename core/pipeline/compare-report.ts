/**
 * `pipeline compare`: one self-contained HTML page that sets runs side by side, as MLflow's and
 * TensorBoard's run comparisons do: what each run was (pipeline, preset, overrides, seed, commit,
 * outcome, time), the params on which they differ, their summary figures, and every loop's curves
 * overlaid, one colour per run (Vega-Lite rendered to inline SVG, no network needed to view).
 */
import * as vega from "vega";
import * as vl from "vega-lite";
import type { CurvePoint } from "./runner.ts";
import { flattenParams, type RunRecord } from "./runs.ts";

export interface ComparedRun {
  readonly run: RunRecord;
  /** Summary figures by dotted path (numbers only). */
  readonly summary: ReadonlyMap<string, number>;
  /** Per loop node, its figures per iteration. */
  readonly curves: ReadonlyMap<string, readonly CurvePoint[]>;
}

const escape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const table = (head: readonly string[], rows: readonly (readonly string[])[]): string =>
  `<table><thead><tr>${head.map((h) => `<th>${escape(h)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${escape(c)}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;

const renderSvg = async (spec: vl.TopLevelSpec): Promise<string> => {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
};

const format = (x: number) => (Number.isInteger(x) ? String(x) : Math.abs(x) >= 1e4 || Math.abs(x) < 1e-3 ? x.toExponential(3) : x.toFixed(4));

/** The metrics drawn per loop: those every compared run has, bookkeeping counters left out, at most `limit`. */
export const sharedMetrics = (runs: readonly ComparedRun[], node: string, limit: number, wanted: readonly string[] = []): string[] => {
  const sets = runs.map((r) => new Set((r.curves.get(node) ?? []).flatMap((p) => Object.keys(p.metrics))));
  const common = [...(sets[0] ?? new Set<string>())].filter((m) => sets.every((s) => s.has(m)));
  if (wanted.length > 0) return common.filter((m) => wanted.includes(m));
  return common.filter((m) => !["iteration", "env_steps", "agent_steps"].includes(m)).slice(0, limit);
};

export const compareReport = async (runs: readonly ComparedRun[], options: { readonly metrics?: readonly string[]; readonly perLoop?: number } = {}): Promise<string> => {
  const label = (r: RunRecord) => r.id;
  const sections: string[] = [];
  sections.push(
    "<h2>Runs</h2>" +
      table(
        ["run", "pipeline", "preset", "overrides", "seed", "commit", "outcome", "wall time"],
        runs.map(({ run }) => [
          run.id,
          run.pipeline,
          run.preset ?? "(default)",
          run.sets.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ") || "-",
          String(run.seed),
          run.commit === null ? "-" : `${run.commit.slice(0, 10)}${run.dirty ? " (uncommitted changes)" : ""}`,
          run.outcome,
          `${run.seconds.toFixed(1)} s`
        ])
      )
  );
  const flat = runs.map(({ run }) => flattenParams({ ...run.params, seed: run.seed }));
  const paramPaths = [...new Set(flat.flatMap((f) => [...f.keys()]))].sort().filter((k) => new Set(flat.map((f) => f.get(k) ?? "unset")).size > 1);
  sections.push(
    "<h2>Params that differ</h2>" +
      (paramPaths.length === 0 ? "<p>None: the runs share every param.</p>" : table(["param", ...runs.map((r) => label(r.run))], paramPaths.map((k) => [k, ...flat.map((f) => f.get(k) ?? "unset")])))
  );
  const summaryPaths = [...new Set(runs.flatMap((r) => [...r.summary.keys()]))].sort();
  const summarySection =
    "<h2>Summary figures</h2>" +
    (summaryPaths.length === 0
      ? "<p>The compared runs' pipelines define no summary figures.</p>"
      : table(["figure", ...runs.map((r) => label(r.run))], summaryPaths.map((k) => [k, ...runs.map((r) => (r.summary.has(k) ? format(r.summary.get(k)!) : "-"))])));
  const loops = [...new Set(runs.flatMap((r) => [...r.curves.keys()]))].sort();
  for (const node of loops) {
    const metrics = sharedMetrics(runs, node, options.perLoop ?? 6, options.metrics ?? []);
    if (metrics.length === 0) continue;
    const values = runs.flatMap((r) =>
      (r.curves.get(node) ?? []).flatMap((p) => metrics.filter((m) => m in p.metrics).map((m) => ({ run: label(r.run), iteration: p.iteration, metric: m, value: p.metrics[m]! })))
    );
    const svgs: string[] = [];
    for (const metric of metrics) {
      svgs.push(
        await renderSvg({
          $schema: "https://vega.github.io/schema/vega-lite/v5.json",
          title: metric,
          width: 360,
          height: 180,
          data: { values: values.filter((v) => v.metric === metric) },
          mark: { type: "line", strokeWidth: 1.2 },
          encoding: {
            x: { field: "iteration", type: "quantitative", title: "iteration" },
            y: { field: "value", type: "quantitative", title: metric, scale: { zero: false } },
            color: { field: "run", type: "nominal", title: "run" }
          }
        })
      );
    }
    sections.push(`<h2>${escape(node)}: curves</h2><div class="grid">${svgs.join("")}</div>`);
  }
  // The curves come before the (long) table of summary figures.
  sections.push(summarySection);
  return `<!doctype html><html><head><meta charset="utf-8"><title>Run comparison: ${escape(runs.map((r) => r.run.id).join(" vs "))}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;max-width:1400px}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}.grid{display:flex;flex-wrap:wrap;gap:12px}</style></head>
<body><h1>Run comparison</h1>${sections.join("\n")}</body></html>`;
};
