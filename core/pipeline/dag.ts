/**
 * The DAG of a pipeline as text other tools draw (ARCHITECTURE section 3; what `dvc dag` gives
 * DVC users): Mermaid for Markdown viewers and GitHub, Graphviz DOT for `dot -Tsvg`, and a
 * self-contained SVG drawn here (nodes in layers by their longest path from a source, so it needs
 * no Graphviz). Nodes are the
 * pipeline's nodes in execution order, labelled with the stage they run and the params subtree
 * they read; loop nodes (checkpointed training loops) are drawn as rounded boxes; edges run from
 * each input's producer to its consumer, labelled with the input's name. A loop's body (the
 * stages one iteration runs, e.g. rollouts then a PPO update) is drawn inside a box beside the
 * loop node when `loopBody` describes it.
 */
import { paramsLabel, type Pipeline, type PipelineNode } from "./pipeline.ts";

export type DagFormat = "mermaid" | "dot" | "svg";

/** The DAG one iteration of a loop node runs: its steps in order and the data flowing between them. */
export interface LoopBody {
  readonly steps: ReadonlyArray<{ readonly id: string; readonly label?: string }>;
  readonly edges: ReadonlyArray<{ readonly from: string; readonly to: string; readonly label?: string }>;
}

/** Where loop bodies plug in: the body of a loop node, or undefined to draw the loop as one node. */
export type LoopBodyOf = (node: PipelineNode) => LoopBody | undefined;

const noBodies: LoopBodyOf = () => undefined;
export const DAG_FORMATS: readonly DagFormat[] = ["mermaid", "dot", "svg"];

const label = (node: PipelineNode): string[] => [
  node.id,
  ...(node.stage.name !== node.id ? [`stage ${node.stage.name}`] : []),
  ...(node.stage._kind === "loop" ? ["loop"] : []),
  ...(paramsLabel(node) !== "" ? [`params ${paramsLabel(node)}`] : [])
];

const edges = (pipeline: Pipeline): { from: string; to: string; input: string }[] =>
  pipeline.nodes.flatMap((node) => Object.entries(node.inputs).map(([input, from]) => ({ from, to: node.id, input })));

/** Mermaid `flowchart` ids cannot carry every character of a node id: nodes get n0, n1, ... */
const toMermaid = (pipeline: Pipeline, bodyOf: LoopBodyOf): string => {
  const ids = new Map(pipeline.nodes.map((n, i) => [n.id, `n${i}`] as const));
  const quote = (text: string) => text.replace(/"/g, "#quot;");
  const lines = [`flowchart TD`, `  %% ${quote(pipeline.name)}: ${quote(pipeline.description)}`];
  for (const node of pipeline.nodes) {
    const text = quote(label(node).join("<br/>"));
    lines.push(node.stage._kind === "loop" ? `  ${ids.get(node.id)}(["${text}"])` : `  ${ids.get(node.id)}["${text}"]`);
  }
  for (const e of edges(pipeline)) lines.push(`  ${ids.get(e.from)} -->|${quote(e.input)}| ${ids.get(e.to)}`);
  pipeline.nodes.forEach((node, i) => {
    const body = node.stage._kind === "loop" ? bodyOf(node) : undefined;
    if (body === undefined) return;
    const stepId = (step: string) => `n${i}_${body.steps.findIndex((s) => s.id === step)}`;
    lines.push(`  subgraph n${i}_body ["${quote(node.id)}: each iteration"]`);
    for (const step of body.steps) lines.push(`    ${stepId(step.id)}["${quote(step.label ?? step.id)}"]`);
    for (const e of body.edges) lines.push(`    ${stepId(e.from)} -->${e.label !== undefined ? `|${quote(e.label)}|` : ""} ${stepId(e.to)}`);
    lines.push("  end");
    lines.push(`  n${i} -.-|body| n${i}_body`);
  });
  return lines.join("\n") + "\n";
};

const toDot = (pipeline: Pipeline, bodyOf: LoopBodyOf): string => {
  const escape = (text: string) => text.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
  const q = (text: string) => `"${escape(text)}"`;
  const lines = [`digraph ${q(pipeline.name)} {`, "  rankdir=TB;", "  node [shape=box, fontname=Helvetica];"];
  for (const node of pipeline.nodes) {
    const style = node.stage._kind === "loop" ? ", style=rounded, peripheries=2" : "";
    // DOT's \n starts a new label line: the parts are escaped one by one, then joined with it.
    lines.push(`  ${q(node.id)} [label="${label(node).map(escape).join("\\n")}"${style}];`);
  }
  for (const e of edges(pipeline)) lines.push(`  ${q(e.from)} -> ${q(e.to)} [label=${q(e.input)}];`);
  for (const node of pipeline.nodes) {
    const body = node.stage._kind === "loop" ? bodyOf(node) : undefined;
    if (body === undefined || body.steps.length === 0) continue;
    const stepId = (step: string) => q(`${node.id}/${step}`);
    lines.push(`  subgraph ${q(`cluster_${node.id}`)} {`, `    label=${q(`${node.id}: each iteration`)};`, "    style=dashed;");
    for (const step of body.steps) lines.push(`    ${stepId(step.id)} [label=${q(step.label ?? step.id)}];`);
    for (const e of body.edges) lines.push(`    ${stepId(e.from)} -> ${stepId(e.to)}${e.label !== undefined ? ` [label=${q(e.label)}]` : ""};`);
    lines.push("  }");
    lines.push(`  ${q(node.id)} -> ${stepId(body.steps[0]!.id)} [style=dotted, arrowhead=none, label="body"];`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
};

interface Box {
  readonly id: string;
  readonly lines: readonly string[];
  readonly loop: boolean;
}

const xmlEscape = (text: string) => text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");

const CHAR = 7;
const LINE = 15;
const GAP_X = 30;
const GAP_Y = 50;

/**
 * A layered drawing of boxes and edges at (x0, y0): each box in the layer one below its deepest
 * input; returns the SVG elements and the drawing's size.
 */
const layered = (boxes: readonly Box[], links: ReadonlyArray<{ from: string; to: string; label?: string | undefined }>, x0: number, y0: number) => {
  const layer = new Map<string, number>();
  for (const box of boxes) {
    const inputs = links.filter((l) => l.to === box.id).map((l) => layer.get(l.from) ?? -1);
    layer.set(box.id, Math.max(-1, ...inputs) + 1);
  }
  const size = new Map(boxes.map((b) => [b.id, { w: Math.max(...b.lines.map((l) => l.length)) * CHAR + 16, h: b.lines.length * LINE + 10 }] as const));
  const layers = [...new Set(layer.values())].sort((a, b) => a - b);
  const position = new Map<string, { x: number; y: number; w: number; h: number }>();
  let y = y0;
  let width = 0;
  for (const l of layers) {
    const row = boxes.filter((b) => layer.get(b.id) === l);
    let x = x0;
    let height = 0;
    for (const b of row) {
      const { w, h } = size.get(b.id)!;
      position.set(b.id, { x, y, w, h });
      x += w + GAP_X;
      height = Math.max(height, h);
    }
    width = Math.max(width, x - GAP_X - x0);
    y += height + GAP_Y;
  }
  const parts: string[] = [];
  // Parallel links become one, labelled with all their names; ends spread along the boxes' sides.
  const merged = new Map<string, { from: string; to: string; labels: string[] }>();
  for (const link of links) {
    if (!position.has(link.from) || !position.has(link.to)) continue;
    const key = `${link.from}\u0000${link.to}`;
    const entry = merged.get(key) ?? { from: link.from, to: link.to, labels: [] };
    if (link.label !== undefined) entry.labels.push(link.label);
    merged.set(key, entry);
  }
  const drawnLinks = [...merged.values()];
  const slot = (id: string, end: "from" | "to", other: (l: (typeof drawnLinks)[number]) => string, link: (typeof drawnLinks)[number]) => {
    const siblings = drawnLinks.filter((l) => l[end] === id).sort((p, q) => position.get(other(p))!.x - position.get(other(q))!.x);
    return (siblings.indexOf(link) + 1) / (siblings.length + 1);
  };
  for (const link of drawnLinks) {
    const a = position.get(link.from)!;
    const b = position.get(link.to)!;
    const [x1, y1, x2, y2] = [a.x + a.w * slot(link.from, "from", (l) => l.to, link), a.y + a.h, b.x + b.w * slot(link.to, "to", (l) => l.from, link), b.y];
    parts.push(`<path d="M${x1},${y1} C${x1},${(y1 + y2) / 2} ${x2},${(y1 + y2) / 2} ${x2},${y2}" fill="none" stroke="#666" marker-end="url(#arrow)"/>`);
    if (link.labels.length > 0) parts.push(`<text x="${(x1 + x2) / 2 + 4}" y="${(y1 + y2) / 2}" font-size="10" fill="#555">${xmlEscape(link.labels.join(", "))}</text>`);
  }
  for (const box of boxes) {
    const p = position.get(box.id)!;
    parts.push(`<rect x="${p.x}" y="${p.y}" width="${p.w}" height="${p.h}" rx="${box.loop ? 12 : 2}" fill="${box.loop ? "#eef4ff" : "#fff"}" stroke="#333"${box.loop ? ' stroke-width="2"' : ""}/>`);
    box.lines.forEach((line, i) => parts.push(`<text x="${p.x + 8}" y="${p.y + 17 + i * LINE}" font-size="${i === 0 ? 12 : 10}"${i === 0 ? ' font-weight="bold"' : ""}>${xmlEscape(line)}</text>`));
  }
  return { parts, width, height: y - GAP_Y - y0 };
};

const toSvg = (pipeline: Pipeline, bodyOf: LoopBodyOf): string => {
  const main = layered(
    pipeline.nodes.map((node) => ({ id: node.id, lines: label(node), loop: node.stage._kind === "loop" })),
    edges(pipeline).map((e) => ({ from: e.from, to: e.to, label: e.input })),
    10,
    40
  );
  const parts = [...main.parts];
  let x = 10 + main.width + 60;
  let height = main.height;
  for (const node of pipeline.nodes) {
    const body = node.stage._kind === "loop" ? bodyOf(node) : undefined;
    if (body === undefined || body.steps.length === 0) continue;
    const drawn = layered(
      body.steps.map((step) => ({ id: step.id, lines: [step.label ?? step.id], loop: false })),
      body.edges,
      x + 10,
      64
    );
    parts.push(`<rect x="${x}" y="40" width="${drawn.width + 20}" height="${drawn.height + 34}" fill="none" stroke="#999" stroke-dasharray="5,4"/>`);
    parts.push(`<text x="${x + 8}" y="56" font-size="11" fill="#333">${xmlEscape(`${node.id}: each iteration`)}</text>`);
    parts.push(...drawn.parts);
    x += drawn.width + 50;
    height = Math.max(height, drawn.height + 34);
  }
  const width = x;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height + 60}" font-family="Helvetica, Arial, sans-serif">`,
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#666"/></marker></defs>`,
    `<text x="10" y="22" font-size="14" font-weight="bold">${xmlEscape(`${pipeline.name}: ${pipeline.description}`)}</text>`,
    ...parts,
    `</svg>`
  ].join("\n") + "\n";
};

/** The DAG as text; loops are single nodes unless `loopBody` gives their bodies. */
export const renderDag = (pipeline: Pipeline, format: DagFormat, loopBody: LoopBodyOf = noBodies): string =>
  format === "mermaid" ? toMermaid(pipeline, loopBody) : format === "dot" ? toDot(pipeline, loopBody) : toSvg(pipeline, loopBody);
