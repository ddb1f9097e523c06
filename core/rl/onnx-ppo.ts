/**
 * The PPO networks of paper section 5 (policy and separate value MLPs, Gaussian or categorical
 * head) as ONNX graphs: a forward graph for batched inference in rollouts, and a training graph
 * that does a whole minibatch step in one `run` - forward pass, the PPO losses (clipped
 * surrogate, adaptive-KL penalty, clipped value loss, entropy bonus), the backward pass derived by
 * hand, optional global-norm clipping and Adam. Weights and Adam moments are graph inputs and
 * outputs, so one model serves every step and the state stays plain Float32Arrays in JS.
 *
 * The derivatives mirror what tfjs's autodiff computes for the reference losses in ppo.ts,
 * including its tie rules: tf.minimum passes the gradient to its first argument on ties,
 * tf.maximum likewise, and clipByValue passes it where the input lies in the closed interval.
 */
import { GraphBuilder } from "./onnx-graph.ts";

const HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);

/** The architecture and loss constants a graph is generated for. */
export interface OnnxPpoSpec {
  obsDim: number;
  /** "continuous": Gaussian with mean and log-stDev heads of width actionDim; "discrete": logits of width actionDim. */
  kind: "continuous" | "discrete";
  actionDim: number;
  policyHidden: readonly number[];
  valueHidden: readonly number[];
  policyActivation: "tanh" | "relu";
  valueActivation: "tanh" | "relu";
  logStdMin: number;
  logStdMax: number;
  clipParam: number;
  valueClipParam: number | null;
  maxGradNorm: number | null;
  beta1: number;
  beta2: number;
}

/** Shapes of the variables in order: policy layers then heads, then value layers and output; kernel then bias. */
export const variableShapes = (spec: OnnxPpoSpec): number[][] => {
  const shapes: number[][] = [];
  const mlp = (hidden: readonly number[], heads: number[]) => {
    const sizes = [spec.obsDim, ...hidden];
    for (let l = 0; l + 1 < sizes.length; l++) shapes.push([sizes[l]!, sizes[l + 1]!], [sizes[l + 1]!]);
    const last = sizes[sizes.length - 1]!;
    for (const w of heads) shapes.push([last, w], [w]);
  };
  mlp(spec.policyHidden, spec.kind === "continuous" ? [spec.actionDim, spec.actionDim] : [spec.actionDim]);
  mlp(spec.valueHidden, [1]);
  return shapes;
};

interface Layer {
  w: string;
  b: string;
}
interface MlpCache {
  /** h[0] is the input; h[l] the activation of hidden layer l. */
  h: string[];
  outs: string[];
}

const forwardMlp = (g: GraphBuilder, x: string, hidden: Layer[], heads: Layer[], activation: "tanh" | "relu"): MlpCache => {
  const h = [x];
  for (const layer of hidden) {
    const z = g.op("Gemm", [h[h.length - 1]!, layer.w, layer.b]);
    h.push(activation === "tanh" ? g.tanh(z) : g.relu(z));
  }
  const last = h[h.length - 1]!;
  return { h, outs: heads.map((head) => g.op("Gemm", [last, head.w, head.b])) };
};

/** Gradients [dW, db] per layer (hidden layers, then heads) of an MLP given the output gradients. */
const backwardMlp = (g: GraphBuilder, cache: MlpCache, hidden: Layer[], heads: Layer[], dOuts: string[], activation: "tanh" | "relu"): string[] => {
  const last = cache.h[cache.h.length - 1]!;
  const headGrads = heads.flatMap((_, k) => [g.gemm(last, dOuts[k]!, true, false), g.sum(dOuts[k]!, [0], false)]);
  const hiddenGrads: string[][] = [];
  if (hidden.length > 0) {
    let dh = dOuts.map((d, k) => g.gemm(d, heads[k]!.w, false, true)).reduce((a, b) => g.add(a, b));
    for (let l = hidden.length; l >= 1; l--) {
      const hl = cache.h[l]!;
      // tanh' = 1 - h^2; relu' = 1 where h > 0, which is sign(h) since h >= 0.
      const dz = g.mul(dh, activation === "tanh" ? g.sub(g.scalar(1), g.mul(hl, hl)) : g.sign(hl));
      hiddenGrads[l - 1] = [g.gemm(cache.h[l - 1]!, dz, true, false), g.sum(dz, [0], false)];
      if (l > 1) dh = g.gemm(dz, hidden[l - 1]!.w, false, true);
    }
  }
  return [...hiddenGrads.flat(), ...headGrads];
};

/** Splits the variable names into the policy's and the value network's hidden layers and heads. */
const layout = (spec: OnnxPpoSpec, names: readonly string[]) => {
  let i = 0;
  const take = (n: number): Layer[] =>
    Array.from({ length: n }, () => {
      const layer = { w: names[i]!, b: names[i + 1]! };
      i += 2;
      return layer;
    });
  const policyHidden = take(spec.policyHidden.length);
  const policyHeads = take(spec.kind === "continuous" ? 2 : 1);
  const valueHidden = take(spec.valueHidden.length);
  const valueHeads = take(1);
  return { policyHidden, policyHeads, valueHidden, valueHeads };
};

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Total number of weights: the length of the flat `W`, `M`, `V` and `G` vectors. */
const parameterCount = (spec: OnnxPpoSpec): number => variableShapes(spec).reduce((s, shape) => s + sizeOf(shape), 0);

/**
 * The variables, in `variableShapes` order, as views of the flat input `name`: one Split and a
 * Reshape each. A flat vector keeps a step to three weight-sized inputs and outputs, and Adam to
 * a dozen ops on one long vector instead of a dozen per variable.
 */
const unflatten = (g: GraphBuilder, spec: OnnxPpoSpec, name: string): string[] => {
  const shapes = variableShapes(spec);
  const flat = g.input(name, [parameterCount(spec)]);
  const parts = g.split(flat, shapes.map(sizeOf));
  return parts.map((part, i) => g.reshape(part, shapes[i]!));
};

/** Policy distribution parameters from the raw head outputs: logits, or [mean, clipped logStd]. */
const policyParams = (g: GraphBuilder, spec: OnnxPpoSpec, outs: string[]) =>
  spec.kind === "continuous" ? [outs[0]!, g.clip(outs[1]!, spec.logStdMin, spec.logStdMax)] : [outs[0]!];

/**
 * The inference graph: input `obs` [rows, obsDim] and the flat weights `W`; output `out` [rows, paramDim + 1]
 * (distribution parameters, then the state value), the layout `ActorCritic.evaluate` returns.
 * With `policyOnly` the value network is left out and `out` holds the distribution parameters
 * alone (what the KL of an updated policy needs).
 */
export const buildForwardModel = (spec: OnnxPpoSpec, policyOnly = false): Uint8Array => {
  const g = new GraphBuilder();
  const obs = g.input("obs", ["rows", spec.obsDim]);
  const l = layout(spec, unflatten(g, spec, "W"));
  const policy = forwardMlp(g, obs, l.policyHidden, l.policyHeads, spec.policyActivation);
  const params = policyParams(g, spec, policy.outs);
  const paramDim = spec.kind === "continuous" ? 2 * spec.actionDim : spec.actionDim;
  if (policyOnly) {
    g.output("out", params.length > 1 ? g.concat(params, 1) : params[0]!, ["rows", paramDim]);
    return g.encode("ppo-policy-forward");
  }
  const value = forwardMlp(g, obs, l.valueHidden, l.valueHeads, spec.valueActivation);
  g.output("out", g.concat([...params, value.outs[0]!], 1), ["rows", paramDim + 1]);
  return g.encode("ppo-forward");
};

/** Scalar inputs of the training graph, each of shape [1]. */
export const TRAIN_SCALARS = ["invRows", "wPolicy", "wValue", "wKl", "wEntropy", "rate", "eps"] as const;
/** Loss outputs of the training graph, scalars. */
export const LOSS_OUTPUTS = ["total", "policy", "value", "kl", "entropy", "approxKl", "clipFraction"] as const;

/**
 * The training graph. Inputs: `obs`, `act` (action features), `oldLogp`, `oldP0` (and `oldP1`),
 * `oldV`, `adv`, `ret` for the minibatch rows, the scalars of TRAIN_SCALARS, the flat weights `W`
 * and, in "step" mode, the flat Adam moments `M`, `V`. Outputs: the LOSS_OUTPUTS and, in "step"
 * mode, `W_out`, `M_out`, `V_out` after one Adam step; in "gradients" mode the flat `G`, the
 * gradient of wPolicy*policy + wValue*value + wKl*kl - wEntropy*entropy (before clipping).
 */
export const buildTrainModel = (spec: OnnxPpoSpec, mode: "step" | "gradients"): Uint8Array => {
  const g = new GraphBuilder();
  const d = spec.actionDim;
  const obs = g.input("obs", ["rows", spec.obsDim]);
  const act = g.input("act", ["rows", d]);
  const oldLogp = g.input("oldLogp", ["rows", 1]);
  const oldP0 = g.input("oldP0", ["rows", d]);
  const oldP1 = spec.kind === "continuous" ? g.input("oldP1", ["rows", d]) : "";
  const oldV = g.input("oldV", ["rows", 1]);
  const adv = g.input("adv", ["rows", 1]);
  const ret = g.input("ret", ["rows", 1]);
  const [invRows, wPolicy, wValue, wKl, wEntropy, rate, eps] = TRAIN_SCALARS.map((n) => g.input(n, [1])) as [string, string, string, string, string, string, string];
  const paramCount = parameterCount(spec);
  const l = layout(spec, unflatten(g, spec, "W"));

  // ----- forward -----
  const policy = forwardMlp(g, obs, l.policyHidden, l.policyHeads, spec.policyActivation);
  const value = forwardMlp(g, obs, l.valueHidden, l.valueHeads, spec.valueActivation);
  const mean = (x: string) => g.mul(g.total(x, 2), invRows);
  const klScale = g.mul(wKl, invRows);
  const entScale = g.mul(wEntropy, invRows);

  let logp: string;
  let entropyRowSum: string;
  let klRows: string;
  let policyBackward: (gLogp: string) => string[];
  if (spec.kind === "continuous") {
    const mu = policy.outs[0]!;
    const rawLogStd = policy.outs[1]!;
    const logStd = g.clip(rawLogStd, spec.logStdMin, spec.logStdMax);
    const logStdPasses = g.mask("Equal", rawLogStd, logStd);
    const invStd = g.exp(g.neg(logStd));
    const z = g.mul(g.sub(act, mu), invStd);
    const perDim = g.sub(g.mul(g.mul(z, z), g.scalar(-0.5)), logStd);
    logp = g.sub(g.sum(perDim, [1]), g.scalar(HALF_LOG_TWO_PI * d));
    entropyRowSum = logStd;
    const numerator = g.add(g.exp(g.mul(oldP1, g.scalar(2))), g.mul(g.sub(oldP0, mu), g.sub(oldP0, mu)));
    const invVar = g.exp(g.mul(logStd, g.scalar(-2)));
    const klRatio = g.mul(numerator, invVar);
    klRows = g.add(g.sub(logStd, oldP1), g.mul(g.sub(klRatio, g.scalar(1)), g.scalar(0.5)));
    policyBackward = (gLogp) => {
      const gMean = g.add(g.mul(g.mul(gLogp, z), invStd), g.mul(klScale, g.mul(g.sub(mu, oldP0), invVar)));
      const gLogStd = g.sub(g.add(g.mul(gLogp, g.sub(g.mul(z, z), g.scalar(1))), g.mul(klScale, g.sub(g.scalar(1), klRatio))), entScale);
      return [gMean, g.mul(gLogStd, logStdPasses)];
    };
  } else {
    const logits = policy.outs[0]!;
    const logP = g.logSoftmax(logits);
    const p = g.exp(logP);
    logp = g.sum(g.mul(logP, act), [1]);
    const entRow = g.neg(g.sum(g.mul(p, logP), [1]));
    entropyRowSum = entRow;
    const oldLogP = g.logSoftmax(oldP0);
    const oldP = g.exp(oldLogP);
    klRows = g.mul(oldP, g.sub(oldLogP, logP));
    policyBackward = (gLogp) => {
      const fromLogp = g.mul(gLogp, g.sub(act, p));
      const fromKl = g.mul(klScale, g.sub(g.mul(p, g.sum(oldP, [1])), oldP));
      const fromEntropy = g.mul(entScale, g.mul(p, g.add(logP, entRow)));
      return [g.add(g.add(fromLogp, fromKl), fromEntropy)];
    };
  }
  const logRatio = g.sub(logp, oldLogp);
  const ratio = g.exp(logRatio);
  const clipped = g.clip(ratio, 1 - spec.clipParam, 1 + spec.clipParam);
  const s1 = g.mul(ratio, adv);
  const s2 = g.mul(clipped, adv);
  const policyLoss = g.neg(mean(g.min(s1, s2)));
  const klLoss = mean(klRows);
  const entropy = spec.kind === "continuous" ? g.add(mean(entropyRowSum), g.scalar((0.5 + HALF_LOG_TWO_PI) * d)) : mean(entropyRowSum);

  const v = value.outs[0]!;
  const err = g.sub(v, ret);
  const se = g.mul(err, err);
  let valueLoss: string;
  let gV: string;
  const twoW = g.mul(g.mul(wValue, invRows), g.scalar(2));
  if (spec.valueClipParam === null) {
    valueLoss = mean(se);
    gV = g.mul(twoW, err);
  } else {
    const dv = g.sub(v, oldV);
    const dvClipped = g.clip(dv, -spec.valueClipParam, spec.valueClipParam);
    const err2 = g.sub(g.add(oldV, dvClipped), ret);
    const se2 = g.mul(err2, err2);
    valueLoss = mean(g.max(se, se2));
    const first = g.mask("GreaterOrEqual", se, se2);
    const passes = g.mask("Equal", dv, dvClipped);
    gV = g.mul(twoW, g.add(g.mul(first, err), g.mul(g.sub(g.scalar(1), first), g.mul(err2, passes))));
  }
  const total = g.sub(g.add(g.add(g.mul(wPolicy, policyLoss), g.mul(wValue, valueLoss)), g.mul(wKl, klLoss)), g.mul(wEntropy, entropy));
  const approxKl = mean(g.sub(g.sub(ratio, g.scalar(1)), logRatio));
  const clipFraction = mean(g.mask("Greater", g.op("Abs", [g.sub(ratio, g.scalar(1))]), g.scalar(spec.clipParam)));
  const losses: Record<(typeof LOSS_OUTPUTS)[number], string> = { total, policy: policyLoss, value: valueLoss, kl: klLoss, entropy, approxKl, clipFraction };
  for (const name of LOSS_OUTPUTS) g.output(name, g.reshape(losses[name], [1]), [1]);

  // ----- backward -----
  // d(-mean(min(s1, s2)))/d logp: min passes to s1 on ties; s2's clip passes inside [1-c, 1+c].
  const first = g.mask("LessOrEqual", s1, s2);
  const inside = g.mask("Equal", ratio, clipped);
  const gate = g.add(first, g.mul(g.sub(g.scalar(1), first), inside));
  const gLogp = g.neg(g.mul(g.mul(g.mul(wPolicy, invRows), adv), g.mul(gate, ratio)));
  const policyGrads = backwardMlp(g, policy, l.policyHidden, l.policyHeads, policyBackward(gLogp), spec.policyActivation);
  const valueGrads = backwardMlp(g, value, l.valueHidden, l.valueHeads, [gV], spec.valueActivation);
  let grad = g.concat([...policyGrads, ...valueGrads].map((gr) => g.reshape(gr, [-1])), 0);

  if (mode === "gradients") {
    g.output("G", grad, [paramCount]);
    return g.encode("ppo-gradients");
  }
  if (spec.maxGradNorm !== null) {
    const norm = g.sqrt(g.total(g.mul(grad, grad), 1));
    const scale = g.min(g.scalar(1), g.div(g.scalar(spec.maxGradNorm), g.add(norm, g.scalar(1e-6))));
    grad = g.mul(grad, scale);
  }
  const m = g.input("M", [paramCount]);
  const vv = g.input("V", [paramCount]);
  const mNew = g.add(g.mul(g.scalar(spec.beta1), m), g.mul(g.scalar(1 - spec.beta1), grad));
  const vNew = g.add(g.mul(g.scalar(spec.beta2), vv), g.mul(g.scalar(1 - spec.beta2), g.mul(grad, grad)));
  const wNew = g.sub("W", g.div(g.mul(rate, mNew), g.add(g.sqrt(vNew), eps)));
  g.output("W_out", wNew, [paramCount]);
  g.output("M_out", mNew, [paramCount]);
  g.output("V_out", vNew, [paramCount]);
  return g.encode("ppo-step");
};
