/**
 * A small builder of ONNX models in TypeScript, and the protobuf encoding of the few message
 * types a model needs (ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto, ...). The
 * PPO networks' forward pass, their hand-derived backward pass and Adam are written as plain ONNX
 * ops with this builder (see onnx-ppo.ts) and run by onnxruntime, which has no training API for
 * Node (paper section 5's networks at the paper's scale). Field numbers follow onnx.proto3.
 */

// ---------------------------------------------------------------------------------------------
// Protobuf wire format
// ---------------------------------------------------------------------------------------------

class Writer {
  private chunks: number[] = [];

  varint(value: number | bigint): this {
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.chunks.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.chunks.push(Number(v));
    return this;
  }
  private tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }
  int(field: number, value: number): this {
    return this.tag(field, 0).varint(value);
  }
  bytes(field: number, data: Uint8Array): this {
    this.tag(field, 2).varint(data.length);
    for (let i = 0; i < data.length; i++) this.chunks.push(data[i]!);
    return this;
  }
  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }
  message(field: number, body: Writer): this {
    return this.bytes(field, body.finish());
  }
  float(field: number, value: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(new Float32Array([value]).buffer);
    for (let i = 0; i < 4; i++) this.chunks.push(b[i]!);
    return this;
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

const FLOAT = 1;
const INT64 = 7;

/** A constant tensor stored in the model (float32 or int64). */
interface ConstTensor {
  type: "float32" | "int64";
  dims: number[];
  values: number[];
}

const encodeTensor = (name: string, t: ConstTensor): Writer => {
  const w = new Writer();
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.type === "float32" ? FLOAT : INT64);
  w.string(8, name);
  const raw = t.type === "float32" ? new Uint8Array(Float32Array.from(t.values).buffer) : new Uint8Array(BigInt64Array.from(t.values.map(BigInt)).buffer);
  w.bytes(9, raw);
  return w;
};

/** An input or output: float32 with a shape whose entries are sizes or symbolic names. */
const encodeValueInfo = (name: string, shape: readonly (number | string)[]): Writer => {
  const dims = new Writer();
  for (const d of shape) dims.message(1, typeof d === "number" ? new Writer().int(1, d) : new Writer().string(2, d));
  const tensorType = new Writer().int(1, FLOAT).message(2, dims);
  return new Writer().string(1, name).message(2, new Writer().message(1, tensorType));
};

export type Attribute = { kind: "int"; value: number } | { kind: "float"; value: number } | { kind: "ints"; value: number[] };

const encodeAttribute = (name: string, a: Attribute): Writer => {
  const w = new Writer().string(1, name);
  if (a.kind === "int") return w.int(3, a.value).int(20, 2);
  if (a.kind === "float") return w.float(2, a.value).int(20, 1);
  for (const v of a.value) w.int(8, v);
  return w.int(20, 7);
};

// ---------------------------------------------------------------------------------------------
// Graph builder
// ---------------------------------------------------------------------------------------------

interface NodeDef {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, Attribute>;
}

/** ONNX opset of the generated models (ReduceSum takes its axes as an input since 13). */
const OPSET = 17;

/**
 * Builds one graph. Every op returns the name of its (first) output; names are generated, so a
 * graph is a plain sequence of calls. Float constants are deduplicated initializers.
 */
export class GraphBuilder {
  private nodes: NodeDef[] = [];
  private inputs: [string, (number | string)[]][] = [];
  private outputs: [string, (number | string)[]][] = [];
  private initializers = new Map<string, ConstTensor>();
  private counter = 0;

  input(name: string, shape: (number | string)[]): string {
    this.inputs.push([name, shape]);
    return name;
  }

  /** Marks `value` as the graph output `name` (through an Identity when the names differ). */
  output(name: string, value: string, shape: (number | string)[]): void {
    if (value !== name) this.nodes.push({ op: "Identity", inputs: [value], outputs: [name], attributes: {} });
    this.outputs.push([name, shape]);
  }

  /** A float32 scalar constant. */
  scalar(value: number): string {
    const key = `c_${Number.isInteger(value) ? value : value.toExponential()}`.replace(/[^A-Za-z0-9_]/g, "_");
    const existing = this.initializers.get(key);
    if (existing === undefined) this.initializers.set(key, { type: "float32", dims: [], values: [value] });
    else if (existing.values[0] !== Math.fround(value) && existing.values[0] !== value) throw new Error(`constant name clash for ${value}`);
    return key;
  }

  /** An int64 vector constant (axes, shapes). */
  ints(values: number[]): string {
    const key = `i_${values.join("_").replace(/-/g, "m")}`;
    if (!this.initializers.has(key)) this.initializers.set(key, { type: "int64", dims: [values.length], values });
    return key;
  }

  op(op: string, inputs: string[], attributes: Record<string, Attribute> = {}): string {
    const out = `t${this.counter++}`;
    this.nodes.push({ op, inputs, outputs: [out], attributes });
    return out;
  }

  add = (a: string, b: string) => this.op("Add", [a, b]);
  sub = (a: string, b: string) => this.op("Sub", [a, b]);
  mul = (a: string, b: string) => this.op("Mul", [a, b]);
  div = (a: string, b: string) => this.op("Div", [a, b]);
  neg = (a: string) => this.op("Neg", [a]);
  exp = (a: string) => this.op("Exp", [a]);
  sqrt = (a: string) => this.op("Sqrt", [a]);
  tanh = (a: string) => this.op("Tanh", [a]);
  relu = (a: string) => this.op("Relu", [a]);
  sign = (a: string) => this.op("Sign", [a]);
  min = (a: string, b: string) => this.op("Min", [a, b]);
  max = (a: string, b: string) => this.op("Max", [a, b]);
  /** Clip to [lo, hi] (constants). */
  clip = (a: string, lo: number, hi: number) => this.op("Clip", [a, this.scalar(lo), this.scalar(hi)]);
  /** 1 where the condition holds, else 0, as float32. */
  mask = (op: "Equal" | "LessOrEqual" | "GreaterOrEqual" | "Greater" | "Less", a: string, b: string) =>
    this.op("Cast", [this.op(op, [a, b])], { to: { kind: "int", value: FLOAT } });
  matmul = (a: string, b: string) => this.op("MatMul", [a, b]);
  /** alpha * op(A) op(B) (+ C): Gemm with transposes. */
  gemm = (a: string, b: string, transA: boolean, transB: boolean) =>
    this.op("Gemm", [a, b], { transA: { kind: "int", value: transA ? 1 : 0 }, transB: { kind: "int", value: transB ? 1 : 0 } });
  /** Sum over `axes`, keeping them as size-1 dimensions unless keepDims is false. */
  sum = (a: string, axes: number[], keepDims = true) => this.op("ReduceSum", [a, this.ints(axes)], { keepdims: { kind: "int", value: keepDims ? 1 : 0 } });
  /** Sum of every element, as a scalar. */
  total = (a: string, rank: number) => this.sum(a, Array.from({ length: rank }, (_, i) => i), false);
  concat = (parts: string[], axis: number) => this.op("Concat", parts, { axis: { kind: "int", value: axis } });
  logSoftmax = (a: string) => this.op("LogSoftmax", [a], { axis: { kind: "int", value: 1 } });
  reshape = (a: string, shape: number[]) => this.op("Reshape", [a, this.ints(shape)]);

  /** Splits a vector into consecutive parts of the given sizes (one output each). */
  split(a: string, sizes: number[]): string[] {
    const outs = sizes.map(() => `t${this.counter++}`);
    this.nodes.push({ op: "Split", inputs: [a, this.ints(sizes)], outputs: outs, attributes: { axis: { kind: "int", value: 0 } } });
    return outs;
  }

  /** The serialised ModelProto. */
  encode(name: string): Uint8Array {
    const graph = new Writer();
    this.nodes.forEach((n, i) => {
      const node = new Writer();
      for (const x of n.inputs) node.string(1, x);
      for (const y of n.outputs) node.string(2, y);
      node.string(3, `n${i}`);
      node.string(4, n.op);
      for (const [k, a] of Object.entries(n.attributes)) node.message(5, encodeAttribute(k, a));
      graph.message(1, node);
    });
    graph.string(2, name);
    for (const [k, t] of this.initializers) graph.message(5, encodeTensor(k, t));
    for (const [k, s] of this.inputs) graph.message(11, encodeValueInfo(k, s));
    for (const [k, s] of this.outputs) graph.message(12, encodeValueInfo(k, s));
    return new Writer()
      .int(1, 8) // ir_version 8 (ONNX 1.10+), which opset 17 needs at least
      .string(2, "otc-marl")
      .message(7, graph)
      .message(8, new Writer().string(1, "").int(2, OPSET))
      .finish();
  }
}
