/**
 * `pipeline dag` draws what the runner runs: for calibrate-exp4 every node once (loops marked as
 * loops), and exactly one edge per wired input, from its producer to its consumer, in Mermaid and
 * DOT, and a self-contained SVG with every node and each loop's body; an unknown format is bad
 * usage (exit 2).
 */
import { describe, expect, it } from "vitest";
import { renderDag, type LoopBody } from "../../core/pipeline/dag.ts";
import { registry } from "../../pipelines/index.ts";
import { inProcessCli } from "./in-process-cli.ts";

const cli = inProcessCli();

describe("pipeline dag calibrate-exp4", () => {
  it("has every node once and one edge per wired input, in Mermaid and DOT", async () => {
    const pipeline = await registry.find((p) => p.name === "calibrate-exp4")!.load();
    const wired = pipeline.nodes.flatMap((n) => Object.entries(n.inputs).map(([input, from]) => `${from}->${n.id}:${input}`)).sort();
    expect(wired).toContain("train-calsheq->calibration-report:calsheq");

    const dot = await cli(["dag", "calibrate-exp4", "--format", "dot"]);
    expect(dot.code).toBe(0);
    const dotEdges = [...dot.stdout.matchAll(/^ {2}"([^"]+)" -> "([^"]+)" \[label="([^"]+)"\];$/gm)].map((m) => `${m[1]}->${m[2]}:${m[3]}`).sort();
    expect(dotEdges).toEqual(wired);
    for (const node of pipeline.nodes) {
      const line = dot.stdout.split("\n").find((l) => l.startsWith(`  "${node.id}" [label=`));
      expect(line, node.id).toBeDefined();
      expect(line!.includes("peripheries=2")).toBe(node.stage._kind === "loop");
    }

    const mermaid = await cli(["dag", "calibrate-exp4"]);
    expect(mermaid.stdout.startsWith("flowchart TD\n")).toBe(true);
    const ids = new Map([...mermaid.stdout.matchAll(/^ {2}(n\d+)\(?\["([^"<]+)/gm)].map((m) => [m[1]!, m[2]!] as const));
    expect([...ids.values()].sort()).toEqual(pipeline.nodes.map((n) => n.id).sort());
    const mermaidEdges = [...mermaid.stdout.matchAll(/^ {2}(n\d+) -->\|([^|]+)\| (n\d+)$/gm)].map((m) => `${ids.get(m[1]!)}->${ids.get(m[3]!)}:${m[2]}`).sort();
    expect(mermaidEdges).toEqual(wired);
  });

  it("draws itself as a self-contained SVG with every node, an arrow per producer and consumer, and each loop's body", async () => {
    const pipeline = await registry.find((p) => p.name === "calibrate-exp4")!.load();
    const svg = await cli(["dag", "calibrate-exp4", "--format", "svg"]);
    expect(svg.code).toBe(0);
    expect(svg.stdout.startsWith("<svg xmlns=\"http://www.w3.org/2000/svg\"")).toBe(true);
    expect(svg.stdout.trimEnd().endsWith("</svg>")).toBe(true);
    const titles = [...svg.stdout.matchAll(/font-weight="bold">([^<]+)<\/text>/g)].map((m) => m[1]!);
    for (const node of pipeline.nodes) expect(titles, node.id).toContain(node.id);
    const pairs = new Set(pipeline.nodes.flatMap((n) => Object.values(n.inputs).map((from) => `${from}->${n.id}`)));
    const bodies = pipeline.nodes.filter((n) => n.stage._kind === "loop" && n.stage.body !== undefined);
    for (const loop of bodies) expect(svg.stdout).toContain(`${loop.id}: each iteration`);
    for (const step of ["build-supertypes", "rollouts", "ppo-update", "calibrator-update", "bo-propose"]) expect(titles).toContain(step);
    // One arrow per distinct (producer, consumer) pair of the pipeline, plus those inside the bodies.
    expect((svg.stdout.match(/marker-end="url\(#arrow\)"/g) ?? []).length).toBeGreaterThan(pairs.size);
  });

  it("draws a loop's body inside a box beside the loop, in both formats, when one is given", async () => {
    const pipeline = await registry.find((p) => p.name === "calibrate-exp4")!.load();
    const body: LoopBody = {
      steps: [{ id: "build-supertypes" }, { id: "rollouts" }, { id: "ppo-update" }, { id: "calibrator-update" }],
      edges: [
        { from: "build-supertypes", to: "rollouts", label: "populations" },
        { from: "rollouts", to: "ppo-update", label: "batch" },
        { from: "rollouts", to: "calibrator-update", label: "rewards" }
      ]
    };
    const bodyOf = (node: { id: string }) => (node.id === "train-calsheq" ? body : undefined);
    const plain = renderDag(pipeline, "dot");
    const dot = renderDag(pipeline, "dot", bodyOf);
    // The pipeline's own nodes and edges are unchanged; the body adds one cluster and its link.
    const outer = (text: string) => text.split("\n").filter((l) => /^ {2}"/.test(l) && !l.includes('label="body"'));
    expect(outer(dot)).toEqual(outer(plain));
    const cluster = /subgraph "cluster_train-calsheq" \{\n([\s\S]*?)\n {2}\}/.exec(dot)?.[1] ?? "";
    const bodyEdges = [...cluster.matchAll(/^ {4}"train-calsheq\/([^"]+)" -> "train-calsheq\/([^"]+)" \[label="([^"]+)"\];$/gm)].map((m) => `${m[1]}->${m[2]}:${m[3]}`);
    expect(bodyEdges).toEqual(body.edges.map((e) => `${e.from}->${e.to}:${e.label}`));
    expect(dot.match(/subgraph "cluster_/g)).toHaveLength(1);
    expect(dot).toContain('  "train-calsheq" -> "train-calsheq/build-supertypes" [style=dotted, arrowhead=none, label="body"];');

    const mermaid = renderDag(pipeline, "mermaid", bodyOf);
    const loopIndex = pipeline.nodes.findIndex((n) => n.id === "train-calsheq");
    expect(mermaid).toContain(`  subgraph n${loopIndex}_body ["train-calsheq: each iteration"]`);
    expect(mermaid).toContain(`    n${loopIndex}_1 -->|batch| n${loopIndex}_2`);
    expect(mermaid).toContain(`  n${loopIndex} -.-|body| n${loopIndex}_body`);
  });

  it("refuses an unknown format or pipeline with exit 2", async () => {
    expect((await cli(["dag", "calibrate-exp4", "--format", "png"])).stderr).toMatch(/--format png is not a DAG format; use mermaid or dot/);
    expect((await cli(["dag", "nope"])).code).toBe(2);
  });
});
