/**
 * The DAG of a pipeline as text other tools draw (ARCHITECTURE section 3; what `dvc dag` gives
 * DVC users): Mermaid for Markdown viewers and GitHub, Graphviz DOT for `dot -Tsvg`. Nodes are the
 * pipeline's nodes in execution order, labelled with the stage they run and the params subtree
 * they read; loop nodes (checkpointed training loops) are drawn as rounded boxes; edges run from
 * each input's producer to its consumer, labelled with the input's name. A loop's body (the
 * stages one iteration runs, e.g. rollouts then a PPO update) is drawn inside a box beside the
 * loop node when `loopBody` describes it.
 */
import { paramsLabel, type Pipeline, type PipelineNode } from "./pipeline.ts";

export type DagFormat = "mermaid" | "dot";

/** The DAG one iteration of a loop node runs: its steps in order and the data flowing between them. */
export interface LoopBody {
  readonly steps: ReadonlyArray<{ readonly id: string; readonly label?: string }>;
  readonly edges: ReadonlyArray<{ readonly from: string; readonly to: string; readonly label?: string }>;
}

/** Where loop bodies plug in: the body of a loop node, or undefined to draw the loop as one node. */
export type LoopBodyOf = (node: PipelineNode) => LoopBody | undefined;

const noBodies: LoopBodyOf = () => undefined;
export const DAG_FORMATS: readonly DagFormat[] = ["mermaid", "dot"];

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

/** The DAG as text; loops are single nodes unless `loopBody` gives their bodies. */
export const renderDag = (pipeline: Pipeline, format: DagFormat, loopBody: LoopBodyOf = noBodies): string =>
  format === "mermaid" ? toMermaid(pipeline, loopBody) : toDot(pipeline, loopBody);
