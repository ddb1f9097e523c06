/**
 * Vega-Lite specs of the section 5.2 and 3.2 figures ("everything that is a figure in the
 * paper is a plot in the run's report"), built from the plain columns of the evaluation
 * (core/analysis/emergent-eval.ts), the training history and the figure 6 weight logs. Figures 9-18
 * show one metric against each attribute of the first LP (four panels, as the paper's rows), with
 * error bars of +- z standard errors of the mean over episodes; 10 and 21-23 the skew-vs-inventory
 * clouds with the pooled regression lines; 24 the distribution of per-episode skew intensities;
 * 19-20 the rewards during training; 3 the flow response with several PnL LT counts; 6 the
 * Hamiltonian weight during training.
 */
import { ATTRIBUTE_LABELS, EMERGENT_ATTRIBUTES, type Columns, type EmergentAttribute } from "./emergent-eval.ts";
import type { GameWeightRow } from "./game-analysis.ts";
import type { VegaLiteSpec } from "./report.ts";

export interface Figure {
  readonly id: string;
  readonly title: string;
  readonly caption: string;
  readonly spec: VegaLiteSpec;
}

type Row = Record<string, number | string | null>;
type Unit = Record<string, unknown>;

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
const PANEL = { width: 240, height: 150 };

/** Rows of `columns` whose `attribute` is `attribute` (all rows when undefined); NaN becomes null. */
export const rowsOf = (columns: Columns, attribute?: string): Row[] => {
  const keys = Object.keys(columns);
  const n = columns[keys[0]!]?.length ?? 0;
  const attr = columns["attribute"] as string[] | undefined;
  const out: Row[] = [];
  for (let r = 0; r < n; r++) {
    if (attribute !== undefined && attr?.[r] !== attribute) continue;
    const row: Row = {};
    for (const k of keys) {
      const v = columns[k]![r]!;
      row[k] = typeof v === "number" && !Number.isFinite(v) ? null : v;
    }
    out.push(row);
  }
  return out;
};

const grid = (title: string, panels: Unit[]): VegaLiteSpec =>
  ({ $schema: SCHEMA, title, columns: 2, concat: panels, config: { view: { stroke: "#ddd" } } }) as unknown as VegaLiteSpec;

const single = (title: string, unit: Unit): VegaLiteSpec => ({ $schema: SCHEMA, title, ...unit }) as unknown as VegaLiteSpec;

/** Mean +- z se of `metric` against the attribute value, one panel per attribute. */
const metricPanels = (values: Columns, metric: string, yTitle: string, z: number): Unit[] =>
  EMERGENT_ATTRIBUTES.map((a) => {
    const data = rowsOf(values, a)
      .filter((r) => r[`${metric}Mean`] !== null)
      .map((r) => {
        const m = r[`${metric}Mean`] as number;
        const se = (r[`${metric}StdError`] as number | null) ?? 0;
        return { value: r["value"], mean: m, low: m - z * se, high: m + z * se };
      });
    return {
      ...PANEL,
      title: ATTRIBUTE_LABELS[a],
      data: { values: data },
      layer: [
        { mark: { type: "line", point: true }, encoding: { x: { field: "value", type: "quantitative", title: ATTRIBUTE_LABELS[a] }, y: { field: "mean", type: "quantitative", title: yTitle, scale: { zero: false } } } },
        { mark: "rule", encoding: { x: { field: "value", type: "quantitative" }, y: { field: "low", type: "quantitative" }, y2: { field: "high" } } }
      ]
    };
  });

/** The pooled skew intensity with its confidence interval, one panel per attribute (figure 11). */
const skewIntensityPanels = (values: Columns): Unit[] =>
  EMERGENT_ATTRIBUTES.map((a) => ({
    ...PANEL,
    title: ATTRIBUTE_LABELS[a],
    data: { values: rowsOf(values, a).filter((r) => r["skewSlope"] !== null) },
    layer: [
      { mark: { type: "line", point: true }, encoding: { x: { field: "value", type: "quantitative", title: ATTRIBUTE_LABELS[a] }, y: { field: "skewSlope", type: "quantitative", title: "skew intensity", scale: { zero: false } } } },
      { mark: "rule", encoding: { x: { field: "value", type: "quantitative" }, y: { field: "skewCiLow", type: "quantitative" }, y2: { field: "skewCiHigh" } } }
    ]
  }));

/** The skew-vs-inventory cloud of one attribute with the pooled regression line per value. */
const skewScatter = (points: Columns, values: Columns, attribute: EmergentAttribute): Unit => {
  const cloud = rowsOf(points, attribute);
  const qs = cloud.map((r) => r["inventory"] as number);
  const lo = qs.length > 0 ? Math.min(...qs) : -1;
  const hi = qs.length > 0 ? Math.max(...qs) : 1;
  const lines = rowsOf(values, attribute)
    .filter((r) => r["skewSlope"] !== null)
    .flatMap((r) => [lo, hi].map((q) => ({ value: r["value"], inventory: q, skew: (r["skewIntercept"] as number) + (r["skewSlope"] as number) * q })));
  const color = { field: "value", type: "ordinal", title: ATTRIBUTE_LABELS[attribute], scale: { scheme: "viridis" } };
  return {
    width: 420,
    height: 240,
    layer: [
      { data: { values: cloud }, mark: { type: "point", opacity: 0.35, size: 12 }, encoding: { x: { field: "inventory", type: "quantitative", title: "inventory q_t (lots)" }, y: { field: "skew", type: "quantitative", title: "eps_skew" }, color } },
      { data: { values: lines }, mark: { type: "line", strokeWidth: 2 }, encoding: { x: { field: "inventory", type: "quantitative" }, y: { field: "skew", type: "quantitative" }, color } }
    ]
  };
};

const linesByValue = (data: Row[], x: string, y: string, xTitle: string, yTitle: string, colorTitle: string, title: string): Unit => ({
  ...PANEL,
  title,
  data: { values: data.filter((r) => r[y] !== null) },
  mark: { type: "line", point: { size: 12 } },
  encoding: {
    x: { field: x, type: "quantitative", title: xTitle },
    y: { field: y, type: "quantitative", title: yTitle },
    color: { field: "value", type: "ordinal", title: colorTitle, scale: { scheme: "viridis" } }
  }
});

const classFlowPanels = (values: Columns, z: number): Unit[] =>
  EMERGENT_ATTRIBUTES.map((a) => {
    const data = rowsOf(values, a).flatMap((r) =>
      (["flowLt", "pnlLt"] as const)
        .filter((c) => r[`flowPerConnected_${c}Mean`] !== null)
        .map((c) => {
          const m = r[`flowPerConnected_${c}Mean`] as number;
          const se = (r[`flowPerConnected_${c}StdError`] as number | null) ?? 0;
          return { value: r["value"], class: c === "flowLt" ? "flow LTs" : "PnL LTs", mean: m, low: m - z * se, high: m + z * se };
        })
    );
    const color = { field: "class", type: "nominal", scale: { domain: ["flow LTs", "PnL LTs"], range: ["#1f77b4", "#ff7f0e"] } };
    return {
      ...PANEL,
      title: ATTRIBUTE_LABELS[a],
      data: { values: data },
      layer: [
        { mark: { type: "line", point: true }, encoding: { x: { field: "value", type: "quantitative", title: ATTRIBUTE_LABELS[a] }, y: { field: "mean", type: "quantitative", title: "flow per connected LT per step" }, color } },
        { mark: "rule", encoding: { x: { field: "value", type: "quantitative" }, y: { field: "low", type: "quantitative" }, y2: { field: "high" }, color } }
      ]
    };
  });

const flowResponsePanels = (flow: Columns): Unit[] =>
  EMERGENT_ATTRIBUTES.map((a) =>
    linesByValue(
      rowsOf(flow, a).filter((r) => (r["count"] as number) > 0),
      "eps",
      "flow",
      "eps_alpha",
      "F(eps) (lots per step and side)",
      ATTRIBUTE_LABELS[a],
      ATTRIBUTE_LABELS[a]
    )
  );

const skewDistributionPanels = (episodes: Columns): Unit[] =>
  EMERGENT_ATTRIBUTES.map((a) => ({
    ...PANEL,
    title: ATTRIBUTE_LABELS[a],
    data: { values: rowsOf(episodes, a).filter((r) => r["skewIntensity"] !== null) },
    mark: { type: "boxplot", extent: 1.5 },
    encoding: {
      x: { field: "value", type: "ordinal", title: ATTRIBUTE_LABELS[a] },
      y: { field: "skewIntensity", type: "quantitative", title: "per-episode skew intensity" }
    }
  }));

/** Moving average over `width` iterations (the first points average what exists so far). */
const smooth = (y: readonly number[], width: number): number[] =>
  y.map((_, i) => {
    let s = 0;
    let n = 0;
    for (let k = Math.max(0, i - width + 1); k <= i; k++) {
      if (Number.isFinite(y[k]!)) {
        s += y[k]!;
        n++;
      }
    }
    return n > 0 ? s / n : Number.NaN;
  });

const trainingCurve = (rows: readonly Record<string, number>[], series: Record<string, string>, title: string, smoothing: number): VegaLiteSpec => {
  const values: Row[] = [];
  for (const [key, label] of Object.entries(series)) {
    const y = smooth(
      rows.map((r) => r[key] ?? Number.NaN),
      smoothing
    );
    rows.forEach((r, i) => {
      if (Number.isFinite(y[i]!)) values.push({ iteration: r["iteration"] ?? i + 1, reward: y[i]!, series: label });
    });
  }
  return single(title, {
    width: 480,
    height: 220,
    data: { values },
    mark: "line",
    encoding: {
      x: { field: "iteration", type: "quantitative", title: "training iteration" },
      y: { field: "reward", type: "quantitative", title: `mean episode reward (moving average of ${smoothing})`, scale: { zero: false } },
      color: { field: "series", type: "nominal" }
    }
  });
};

const omegaChart = (series: { label: string; rows: readonly GameWeightRow[]; pair: string }[], title: string): Unit => ({
  width: 360,
  height: 220,
  title,
  data: {
    values: series.flatMap((s) => s.rows.filter((r) => r.pair === s.pair && r.omegaA !== null).map((r) => ({ iteration: r.iteration, omegaA: r.omegaA, series: s.label })))
  },
  mark: { type: "line", point: true },
  encoding: {
    x: { field: "iteration", type: "quantitative", title: "training iteration" },
    y: { field: "omegaA", type: "quantitative", title: "Hamiltonian weight omega_A", scale: { domain: [0, 1] } },
    color: { field: "series", type: "nominal" }
  }
});

export interface FigureInputs {
  readonly values: Columns;
  readonly episodes: Columns;
  readonly flowResponse: Columns;
  readonly holding: Columns;
  readonly skewPoints: Columns;
  readonly pnlLtFlow: Columns;
  readonly training: readonly Record<string, number>[];
  readonly games: Readonly<Record<"pnl-1v1" | "pnl-2v1" | "flow-1v1", readonly GameWeightRow[]>>;
  /** z of the error bars (1.96 for 95%). */
  readonly z: number;
  readonly smoothing: number;
}

/** Every figure of sections 5.2 and 3.2, in the paper's order of discussion. */
export const emergentFigures = (d: FigureInputs): Figure[] => {
  const m = (metric: string, y: string) => metricPanels(d.values, metric, y, d.z);
  const scatter = (id: string, attribute: EmergentAttribute, caption: string): Figure => ({
    id,
    title: `eps_skew vs inventory for several ${ATTRIBUTE_LABELS[attribute]} values`,
    caption,
    spec: single(`eps_skew vs inventory, by ${ATTRIBUTE_LABELS[attribute]}`, skewScatter(d.skewPoints, d.values, attribute))
  });
  const bars = `Mean over evaluation episodes, bars +- ${d.z.toFixed(2)} standard errors.`;
  return [
    { id: "figure-9", title: "Average absolute LP inventory vs risk aversion", caption: bars, spec: single("mean |inventory| vs risk aversion", m("meanAbsInventory", "mean |q_t| (lots)")[3]!) },
    scatter("figure-10", "flowConnectivity", "Pooled OLS line per value; its slope is the skew intensity (more negative = more intense skewing)."),
    { id: "figure-11", title: "Skew intensity vs each attribute", caption: "Pooled OLS slope of eps_skew on q_t per value, bars: 95% cluster-robust (by episode) confidence interval.", spec: grid("skew intensity", skewIntensityPanels(d.values)) },
    { id: "figure-12", title: "Hedge fraction vs each attribute", caption: bars, spec: grid("hedge fraction eps_hedge", m("hedgeFraction", "mean eps_hedge")) },
    { id: "figure-13", title: "Mean inventory holding time vs each attribute", caption: `${bars} Holdings still open at T count as T - t.`, spec: grid("mean inventory holding time", m("meanHoldingTime", "holding time (steps)")) },
    {
      id: "figure-14",
      title: "Inventory holding time vs inventory",
      caption: "Mean holding time per inventory bucket, one curve per attribute value.",
      spec: grid(
        "holding time vs inventory",
        EMERGENT_ATTRIBUTES.map((a) => linesByValue(rowsOf(d.holding, a), "inventory", "meanHoldingTime", "inventory q_t (lots)", "holding time (steps)", ATTRIBUTE_LABELS[a], ATTRIBUTE_LABELS[a]))
      )
    },
    { id: "figure-15", title: "Average price eps_alpha (eq. 26) vs each attribute", caption: `${bars} Lower is more competitive.`, spec: grid("average price eps_alpha", m("averagePrice", "mean eps_alpha")) },
    { id: "figure-16", title: "Flow from flow LTs and PnL LTs per connected LT vs each attribute", caption: `${bars} Normalised by the number of LTs of each class connected to the LP.`, spec: grid("flow per connected LT", classFlowPanels(d.values, d.z)) },
    { id: "figure-16-curves", title: "Flow response curves F(eps) (eq. 27) per attribute value", caption: "Mean flow per (step, side) with eps_alpha in each bin.", spec: grid("flow response F(eps)", flowResponsePanels(d.flowResponse)) },
    { id: "figure-17", title: "Market share vs each attribute", caption: bars, spec: grid("market share", m("marketShare", "market share")) },
    { id: "figure-18", title: "PnL vs each attribute", caption: bars, spec: grid("PnL", m("pnl", "final PnL (ticks x lots)")) },
    {
      id: "figure-19",
      title: "LP reward during training",
      caption: "Shared LP policy and LP supertypes 1 and 2.",
      spec: trainingCurve(d.training, { "lp/charts/episode_reward_mean": "shared LP policy", "rewards/lp_lp1": "LP supertype 1", "rewards/lp_lp2": "LP supertype 2" }, "LP mean episode reward", d.smoothing)
    },
    {
      id: "figure-20",
      title: "LT reward during training",
      caption: "Shared LT policy, flow LTs and PnL LTs.",
      spec: trainingCurve(d.training, { "lt/charts/episode_reward_mean": "shared LT policy", "rewards/lt_flow": "flow LTs", "rewards/lt_pnl": "PnL LTs" }, "LT mean episode reward", d.smoothing)
    },
    scatter("figure-21", "pnlConnectivity", "As figure 10 for PnL-LT connectivity."),
    scatter("figure-22", "pnlWeight", "As figure 10 for the PnL weight."),
    scatter("figure-23", "riskAversion", "As figure 10 for risk aversion."),
    { id: "figure-24", title: "Distribution of per-episode skew intensities", caption: "Per-episode OLS slopes of eps_skew on q_t (episodes without inventory changes left out).", spec: grid("skew intensity distribution", skewDistributionPanels(d.episodes)) },
    {
      id: "figure-3",
      title: "Flow response curve with 0, 1, 3 and 4 PnL LTs",
      caption: "F(eps) of the first LP at its base values; convexity grows with the number of PnL LTs in the paper.",
      spec: single("flow response by number of PnL LTs", {
        width: 420,
        height: 240,
        data: { values: rowsOf(d.pnlLtFlow).filter((r) => (r["count"] as number) > 0 && r["flow"] !== null) },
        mark: { type: "line", point: { size: 14 } },
        encoding: {
          x: { field: "eps", type: "quantitative", title: "eps_alpha" },
          y: { field: "flow", type: "quantitative", title: "F(eps) (lots per step and side)" },
          color: { field: "pnlLts", type: "ordinal", title: "PnL LTs" }
        }
      })
    },
    {
      id: "figure-6",
      title: "Hamiltonian weight omega_A during training",
      caption: "Left: 1v1 (PnL LP vs PnL LT) and 2v1 (two PnL LPs vs one PnL LT) per pair. Right: PnL LP vs PnL LT and vs flow LT.",
      spec: {
        $schema: SCHEMA,
        hconcat: [
          omegaChart(
            [
              { label: "1v1 LP-LT", rows: d.games["pnl-1v1"], pair: "lp1-lt" },
              { label: "2v1 LP1-LT", rows: d.games["pnl-2v1"], pair: "lp1-lt" },
              { label: "2v1 LP2-LT", rows: d.games["pnl-2v1"], pair: "lp2-lt" },
              { label: "2v1 LP1-LP2", rows: d.games["pnl-2v1"], pair: "lp1-lp2" }
            ],
            "1v1 and 2v1"
          ),
          omegaChart(
            [
              { label: "LP vs PnL LT", rows: d.games["pnl-1v1"], pair: "lp1-lt" },
              { label: "LP vs flow LT", rows: d.games["flow-1v1"], pair: "lp1-lt" }
            ],
            "PnL LT vs flow LT"
          )
        ]
      } as unknown as VegaLiteSpec
    }
  ];
};
