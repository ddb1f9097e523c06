/**
 * `pipeline dag` draws what the runner runs: for calibrate-exp4 every node once (loops marked as
 * loops), and exactly one edge per wired input, from its producer to its consumer, in both
 * formats; an unknown format is bad usage (exit 2).
 */
import { describe, expect, it } from "vitest";
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

  it("refuses an unknown format or pipeline with exit 2", async () => {
    expect((await cli(["dag", "calibrate-exp4", "--format", "png"])).stderr).toMatch(/--format png is not a DAG format; use mermaid or dot/);
    expect((await cli(["dag", "nope"])).code).toBe(2);
  });
});
