/**
 * The DAG of a pipeline as text other tools draw (ARCHITECTURE section 3; what `dvc dag` gives
 * DVC users): Mermaid for Markdown viewers and GitHub, Graphviz DOT for `dot -Tsvg`. Nodes are the
 * pipeline's nodes in execution order, labelled with the stage they run and the params subtree
 * they read; loop nodes (checkpointed training loops) are drawn as rounded boxes; edges run from
 * each input's producer to its consumer, labelled with the input's name.
 */
import type { Pipeline, PipelineNode } from "./pipeline.ts";

export type DagFormat = "mermaid" | "dot";
export const DAG_FORMATS: readonly DagFormat[] = ["mermaid", "dot"];

const label = (node: PipelineNode): string[] => [
  node.id,
  ...(node.stage.name !== node.id ? [`stage ${node.stage.name}`] : []),
  ...(node.stage._kind === "loop" ? ["loop"] : []),
  ...(node.paramsPath !== "" ? [`params ${node.paramsPath}`] : [])
];

const edges = (pipeline: Pipeline): { from: string; to: string; input: string }[] =>
  pipeline.nodes.flatMap((node) => Object.entries(node.inputs).map(([input, from]) => ({ from, to: node.id, input })));

/** Mermaid `flowchart` ids cannot carry every character of a node id: nodes get n0, n1, ... */
const toMermaid = (pipeline: Pipeline): string => {
  const ids = new Map(pipeline.nodes.map((n, i) => [n.id, `n${i}`] as const));
  const quote = (text: string) => text.replace(/"/g, "#quot;");
  const lines = [`flowchart TD`, `  %% ${quote(pipeline.name)}: ${quote(pipeline.description)}`];
  for (const node of pipeline.nodes) {
    const text = quote(label(node).join("<br/>"));
    lines.push(node.stage._kind === "loop" ? `  ${ids.get(node.id)}(["${text}"])` : `  ${ids.get(node.id)}["${text}"]`);
  }
  for (const e of edges(pipeline)) lines.push(`  ${ids.get(e.from)} -->|${quote(e.input)}| ${ids.get(e.to)}`);
  return lines.join("\n") + "\n";
};

const toDot = (pipeline: Pipeline): string => {
  const escape = (text: string) => text.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
  const q = (text: string) => `"${escape(text)}"`;
  const lines = [`digraph ${q(pipeline.name)} {`, "  rankdir=TB;", "  node [shape=box, fontname=Helvetica];"];
  for (const node of pipeline.nodes) {
    const style = node.stage._kind === "loop" ? ", style=rounded, peripheries=2" : "";
    // DOT's \n starts a new label line: the parts are escaped one by one, then joined with it.
    lines.push(`  ${q(node.id)} [label="${label(node).map(escape).join("\\n")}"${style}];`);
  }
  for (const e of edges(pipeline)) lines.push(`  ${q(e.from)} -> ${q(e.to)} [label=${q(e.input)}];`);
  lines.push("}");
  return lines.join("\n") + "\n";
};

export const renderDag = (pipeline: Pipeline, format: DagFormat): string => (format === "mermaid" ? toMermaid(pipeline) : toDot(pipeline));
