/**
 * The `emergent-behaviour` pipeline end to end through the real CLI on its `tiny` preset
 * (test/pipelines/emergent-main.ts): every stage runs, a re-run is all cache hits, the evaluation
 * exports its Arrow tables as Parquet, and the HTML report opens in headless Chromium (Debian's
 * `chromium` package) with every plot rendered: the dumped DOM holds as many SVG plots as the
 * summary counts, each with drawn marks, and the screenshot is not blank. Without Chromium the
 * browser test skips with a message.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { cliRunner, statuses } from "./cli.ts";
import { expectDescribed } from "./described.ts";

const store = mkdtempSync(join(tmpdir(), "emergent-behaviour-test-"));
afterAll(() => rmSync(store, { recursive: true, force: true }));
const run = cliRunner("test/pipelines/emergent-main.ts", store);

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));

const chromium = (args: string[]): Promise<{ stdout: string; code: number }> =>
  new Promise((done) => {
    const profile = mkdtempSync(join(tmpdir(), "chromium-profile-"));
    execFile(
      CHROMIUM!,
      ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", `--user-data-dir=${profile}`, ...args],
      { maxBuffer: 256 * 1024 * 1024, timeout: 60_000 },
      (error, stdout) => {
        rmSync(profile, { recursive: true, force: true });
        done({ stdout, code: error ? ((error as { code?: number }).code ?? 1) : 0 });
      }
    );
  });

/** Decodes an 8-bit RGB(A) PNG (what Chromium writes) into its pixels. */
const decodePng = (bytes: Buffer): { width: number; height: number; channels: number; pixels: Uint8Array } => {
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 4;
  const idat: Buffer[] = [];
  while (offset < bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString("ascii", offset + 4, offset + 8);
    const data = bytes.subarray(offset + 8, offset + 8 + length);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect(data[8], "8-bit PNG").toBe(8);
      channels = data[9] === 6 ? 4 : data[9] === 2 ? 3 : 0;
      expect(channels, "RGB or RGBA PNG").toBeGreaterThan(0);
    } else if (type === "IDAT") idat.push(data);
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    for (let x = 0; x < stride; x++) {
      const value = raw[y * (stride + 1) + 1 + x]!;
      const a = x >= channels ? pixels[y * stride + x - channels]! : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels]! : 0;
      const p = a + b - c;
      const pa = Math.abs(p - a);
      const pb = Math.abs(p - b);
      const pc = Math.abs(p - c);
      const predictor = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter]!;
      pixels[y * stride + x] = (value + predictor) & 255;
    }
  }
  return { width, height, channels, pixels };
};

describe("emergent-behaviour pipeline", { timeout: 240_000 }, () => {
  let reportPath = "";
  let plots = 0;

  it("runs every stage on the tiny preset, then re-runs from the cache", async () => {
    const first = await run(["run", "emergent-behaviour", "--preset", "tiny", "--json"]);
    expect(first.code, first.stderr).toBe(0);
    const ran = statuses(first.stdout);
    for (const node of ["train-shared", "evaluate-emergent", "game-pnl-1v1", "game-pnl-2v1", "game-flow-1v1", "emergent-report"]) expect(ran[node]).toBe("ran:MISSING");
    const again = await run(["run", "emergent-behaviour", "--preset", "tiny", "--json"]);
    expect(again.code, again.stderr).toBe(0);
    expect(Object.values(statuses(again.stdout)).every((s) => s === "hit")).toBe(true);

    const shown = await run(["show", "emergent-behaviour", "--preset", "tiny", "--json"]);
    expect(shown.code, shown.stderr).toBe(0);
    const nodes = (JSON.parse(shown.stdout) as { nodes: Array<{ node: string; files: Record<string, string>; summary?: unknown }> }).nodes;
    const evaluation = nodes.find((n) => n.node === "evaluate-emergent")!;
    for (const table of ["episodes", "values", "flowResponse", "holding", "skewPoints", "pnlLtFlow"]) expectDescribed(evaluation.files[`${table}.parquet`]!, table === "episodes" ? ["episode"] : []);
    const report = nodes.find((n) => n.node === "emergent-report")!;
    expectDescribed(report.files["findings.parquet"]!, ["episodes", "claimedSign"]);
    const summary = report.summary as { findings: Array<{ verdict: string; source: string }>; plots: number; evaluationEpisodes: number; lastOmegaA: Record<string, number | null> };
    // 5 headline findings of section 5.2 plus the other claims of the paper's text, each with a verdict.
    expect(summary.findings.filter((f) => f.source === "section 5.2 headline")).toHaveLength(5);
    for (const f of summary.findings) expect(["reproduced", "opposite", "inconclusive"]).toContain(f.verdict);
    // 4 attributes x 5 values x 2 episodes.
    expect(summary.evaluationEpisodes).toBe(40);
    expect(Object.keys(summary.lastOmegaA)).toEqual(expect.arrayContaining(["pnl-1v1/lp1-lt", "pnl-2v1/lp1-lp2", "pnl-2v1/lp2-lt", "flow-1v1/lp1-lt"]));
    reportPath = report.files["report.html"]!;
    plots = summary.plots;
    expect(plots).toBeGreaterThanOrEqual(19);
    expect(readFileSync(reportPath, "utf8").match(/<figure class="plot"><svg/g)).toHaveLength(plots);
  });

  it("trains replicates on their own random streams and gives each finding's slope in each", async () => {
    const sets = ["--set", "report.trainingReplicates=1"];
    const first = await run(["run", "emergent-behaviour", "--preset", "tiny", ...sets, "--json"]);
    expect(first.code, first.stderr).toBe(0);
    const ran = statuses(first.stdout);
    // The main run's nodes are cache hits; the replicate's train and evaluate, and the report, run.
    expect(ran).toMatchObject({ "train-shared": "hit", "evaluate-emergent": "hit", "train-shared-replicate-2": "ran:MISSING", "evaluate-emergent-replicate-2": "ran:MISSING" });
    expect(ran["emergent-report"]).toMatch(/^ran:/);
    const shown = await run(["show", "emergent-behaviour", "--preset", "tiny", ...sets, "--json"]);
    const nodes = (JSON.parse(shown.stdout) as { nodes: Array<{ node: string; files: Record<string, string>; summary?: unknown }> }).nodes;
    const findings = (nodes.find((n) => n.node === "emergent-report")!.summary as { findings: Array<{ slope: number | null; replicates: Array<{ slope: number | null }> }> }).findings;
    expect(findings.every((f) => f.replicates.length === 1)).toBe(true);
    // Own random streams: the replicate's policies and episodes differ, so its slopes do.
    const differing = findings.filter((f) => f.slope !== null && f.replicates[0]!.slope !== null && f.slope !== f.replicates[0]!.slope);
    expect(differing.length).toBeGreaterThan(findings.length / 2);
  });

  it.skipIf(CHROMIUM === undefined)("renders every plot in headless Chromium (skipped without /usr/bin/chromium: apt-get install -y chromium)", async () => {
    expect(reportPath, "the pipeline run must pass first").not.toBe("");
    const dom = await chromium(["--dump-dom", `file://${reportPath}`]);
    expect(dom.code).toBe(0);
    const figures = dom.stdout.split('<figure class="plot">').slice(1);
    expect(figures).toHaveLength(plots);
    for (const figure of figures) {
      const svg = figure.slice(0, figure.indexOf("</svg>"));
      expect(svg.startsWith("<svg")).toBe(true);
      // Vega draws each mark group as <g class="mark-..."> holding paths, lines or text.
      const marks = svg.match(/<g class="mark-(symbol|line|rule|rect|area)[^"]*"[^>]*>\s*<(path|line)/g) ?? [];
      expect(marks.length, svg.slice(0, 300)).toBeGreaterThan(0);
    }
    const shot = join(store, "report.png");
    const screenshot = await chromium(["--window-size=1200,3000", `--screenshot=${shot}`, `file://${reportPath}`]);
    expect(screenshot.code).toBe(0);
    const png = decodePng(readFileSync(shot));
    expect(png.width).toBe(1200);
    let dark = 0;
    const n = png.width * png.height;
    for (let i = 0; i < n; i++) {
      const o = i * png.channels;
      if (png.pixels[o]! + png.pixels[o + 1]! + png.pixels[o + 2]! < 600) dark++;
    }
    // Text, axes and marks: a blank or error page would be (nearly) all white.
    expect(dark / n).toBeGreaterThan(0.01);
  });
});

if (CHROMIUM === undefined) console.warn("emergent-behaviour test: Chromium not found at /usr/bin/chromium; the report rendering check is skipped (apt-get install -y chromium).");
