/**
 * Run reports: Vega-Lite charts rendered to SVG and assembled into one self-contained HTML page
 * per pipeline run (ARCHITECTURE section 4: "everything that is a figure in the paper is a
 * plot in the run's report"). Rendering is pure JavaScript (vega's headless view), so reports build
 * on any machine with no browser; the page embeds the SVGs inline and needs no network.
 */
import * as vega from "vega";
import * as vl from "vega-lite";

export type VegaLiteSpec = vl.TopLevelSpec;

/** Renders a Vega-Lite spec to an SVG string. */
export const renderSvg = async (spec: VegaLiteSpec): Promise<string> => {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
};

export interface ReportTable {
  readonly columns: ReadonlyArray<string>;
  readonly rows: ReadonlyArray<ReadonlyArray<string | number | boolean | null>>;
}

export interface ReportSection {
  readonly heading: string;
  readonly text?: string;
  readonly svgs?: ReadonlyArray<string>;
  readonly table?: ReportTable;
}

const escapeHtml = (text: string): string =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");

const formatCell = (value: string | number | boolean | null): string => {
  if (value === null) return "";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value);
    const abs = Math.abs(value);
    return abs !== 0 && (abs < 1e-3 || abs >= 1e6) ? value.toExponential(3) : value.toFixed(4);
  }
  return escapeHtml(String(value));
};

/** One self-contained HTML page: a title, a short intro, and sections of text, plots and tables. */
export const htmlReport = (title: string, intro: string, sections: ReadonlyArray<ReportSection>): string => {
  const body = sections
    .map((s) => {
      const parts = [`<section><h2>${escapeHtml(s.heading)}</h2>`];
      if (s.text) parts.push(`<p>${escapeHtml(s.text)}</p>`);
      for (const svg of s.svgs ?? []) parts.push(`<figure class="plot">${svg}</figure>`);
      if (s.table) {
        parts.push("<table><thead><tr>" + s.table.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("") + "</tr></thead><tbody>");
        for (const row of s.table.rows) parts.push("<tr>" + row.map((v) => `<td>${formatCell(v)}</td>`).join("") + "</tr>");
        parts.push("</tbody></table>");
      }
      parts.push("</section>");
      return parts.join("\n");
    })
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f4f4f4}figure.plot{display:inline-block;margin:0.5em}
</style></head><body>
<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(intro)}</p>
${body}
</body></html>
`;
};
