/**
 * The policy and value networks of one agent class on onnxruntime (paper section 5: the shared
 * policies' [256, 256] tanh networks trained by PPO with 30 SGD passes over minibatches of 128).
 * The weights and Adam moments are Float32Arrays held here, in the variable order and bundle
 * names of `ActorCritic`, so states move freely between this backend and tfjs. Inference runs the
 * forward graph on a batch; a PPO update runs the training graph once per minibatch (forward,
 * losses, backward and Adam in one native call). Graphs come from onnx-ppo.ts; sessions are
 * synchronous (onnx-runtime.ts).
 */
import { adamStateOf, adamStepConstants, checkAdamState, type AdamParams, type AdamStateHolder } from "./adam.ts";
import { OnnxSession } from "./onnx-runtime.ts";
import { buildForwardModel, buildTrainModel, LOSS_OUTPUTS, TRAIN_SCALARS, variableShapes, type OnnxPpoSpec } from "./onnx-ppo.ts";
import { WeightShapeError, type WeightMap } from "./networks.ts";

/** The architecture part of a spec (what inference needs). */
type OnnxNetworkShape = Pick<OnnxPpoSpec, "obsDim" | "kind" | "actionDim" | "policyHidden" | "valueHidden" | "policyActivation" | "valueActivation" | "logStdMin" | "logStdMax">;

/** The loss and optimiser constants a training graph is generated for. */
type OnnxTrainConstants = Pick<OnnxPpoSpec, "clipParam" | "valueClipParam" | "maxGradNorm" | "beta1" | "beta2">;

/** One minibatch as row-major arrays (`rows` rows each). */
export interface OnnxMinibatch {
  rows: number;
  obs: Float32Array;
  /** Action features: the action (continuous) or its one-hot encoding (discrete). */
  act: Float32Array;
  oldLogp: Float32Array;
  /** The sampling policy's parameters as parts: [mean, logStd] or [logits]. */
  oldParams: Float32Array[];
  oldV: Float32Array;
  adv: Float32Array;
  ret: Float32Array;
}

/** Weights of the loss terms in the training graph's objective. */
export interface LossWeights {
  policy: number;
  value: number;
  kl: number;
  entropy: number;
}

export type OnnxLosses = Record<(typeof LOSS_OUTPUTS)[number], number>;

/** Placeholder loss constants where only the architecture matters. */
const noTraining = { clipParam: 0, valueClipParam: null, maxGradNorm: null, beta1: 0, beta2: 0 };

const SCALAR_DIMS: readonly number[] = [1];

export class OnnxNetworks {
  readonly shapes: number[][];
  readonly names: readonly string[];
  /** Start of each variable in the flat vectors. */
  readonly offsets: number[];
  readonly size: number;
  /** All weights, flat in variable order (what the graphs take as `W`). */
  weights: Float32Array;
  /** Adam's first and second moments, flat like the weights (the layout of `Adam.getState`). */
  firstMoments: Float32Array;
  secondMoments: Float32Array;
  /** Adam updates taken so far. */
  adamStep = 0;
  /** Where the next step writes its weights and moments (swapped with the current ones after it). */
  private spare: { w: Float32Array; m: Float32Array; v: Float32Array };
  private readonly forward: OnnxSession;
  /** The policy-only forward graph, made on first use. */
  private policyForward: OnnxSession | undefined;
  private readonly trainSessions = new Map<string, OnnxSession>();
  /** The training graph's scalar inputs, rewritten in place every step. */
  private readonly scalars = Object.fromEntries(TRAIN_SCALARS.map((name) => [name, new Float32Array(1)])) as Record<(typeof TRAIN_SCALARS)[number], Float32Array>;
  /** Where a step writes its losses (one-element arrays, reused). */
  private readonly lossOutputs = Object.fromEntries(LOSS_OUTPUTS.map((name) => [name, new Float32Array(1)])) as Record<(typeof LOSS_OUTPUTS)[number], Float32Array>;
  /** The shape of the flat weight, moment and gradient vectors. */
  private readonly flatDims: readonly number[];

  constructor(
    readonly shape: OnnxNetworkShape,
    /** Bundle names of the variables, in `variableShapes` order (ActorCritic's order). */
    names: readonly string[],
    initial: WeightMap,
    readonly threads: number
  ) {
    this.shapes = variableShapes({ ...shape, ...noTraining });
    if (names.length !== this.shapes.length) throw new Error(`${names.length} variable names for ${this.shapes.length} variables`);
    this.names = names;
    this.offsets = [];
    let total = 0;
    for (const s of this.shapes) {
      this.offsets.push(total);
      total += s.reduce((a, b) => a * b, 1);
    }
    this.size = total;
    this.flatDims = [total];
    this.weights = new Float32Array(total);
    this.firstMoments = new Float32Array(total);
    this.secondMoments = new Float32Array(total);
    this.spare = { w: new Float32Array(total), m: new Float32Array(total), v: new Float32Array(total) };
    this.setWeights(initial);
    this.forward = new OnnxSession(buildForwardModel({ ...shape, ...noTraining }), ["out"], { intraOpThreads: threads });
  }

  private lengthOf(i: number): number {
    return (i + 1 < this.offsets.length ? this.offsets[i + 1]! : this.size) - this.offsets[i]!;
  }

  /** Distribution parameters and value of `rows` observations: rows * (paramDim + 1) numbers. */
  evaluate(obs: Float32Array, rows: number): Float32Array {
    const x = obs.subarray(0, rows * this.shape.obsDim);
    return this.forward.run({ obs: [x, [rows, this.shape.obsDim]], W: [this.weights, this.flatDims] }).out!;
  }

  /** Distribution parameters alone of `rows` observations: rows * paramDim numbers. */
  evaluatePolicy(obs: Float32Array, rows: number): Float32Array {
    this.policyForward ??= new OnnxSession(buildForwardModel({ ...this.shape, ...noTraining }, true), ["out"], { intraOpThreads: this.threads });
    const x = obs.subarray(0, rows * this.shape.obsDim);
    return this.policyForward.run({ obs: [x, [rows, this.shape.obsDim]], W: [this.weights, this.flatDims] }).out!;
  }

  /** A flat vector (weights or gradients) as named tensors. */
  private toMap(flat: Float32Array): WeightMap {
    const out: WeightMap = {};
    this.names.forEach((name, i) => (out[name] = { shape: [...this.shapes[i]!], data: flat.slice(this.offsets[i]!, this.offsets[i]! + this.lengthOf(i)) }));
    return out;
  }

  getWeights(): WeightMap {
    return this.toMap(this.weights);
  }

  /** Checks every entry first, then copies: a bad bundle leaves the weights untouched. */
  setWeights(weights: WeightMap): void {
    this.names.forEach((name, i) => {
      const entry = weights[name];
      const shape = this.shapes[i]!;
      if (entry === undefined) throw new WeightShapeError(name, "it is missing from the bundle");
      if (entry.shape.length !== shape.length || entry.shape.some((d, k) => d !== shape[k])) {
        throw new WeightShapeError(name, `shape [${entry.shape.join(", ")}] differs from [${shape.join(", ")}]`);
      }
      if (entry.data.length !== this.lengthOf(i)) throw new WeightShapeError(name, `${entry.data.length} values for ${this.lengthOf(i)} entries`);
    });
    this.names.forEach((name, i) => this.weights.set(weights[name]!.data, this.offsets[i]!));
  }

  /** Adam's state, in the layout of `Adam.getState` (moments flat in variable order). */
  readonly adam: AdamStateHolder = {
    getState: () => adamStateOf(this.adamStep, this.firstMoments, this.secondMoments),
    checkState: (state) => checkAdamState(state, this.size),
    setState: (state) => {
      checkAdamState(state, this.size);
      this.firstMoments.set(state.moments["adam/m"]!.data);
      this.secondMoments.set(state.moments["adam/v"]!.data);
      this.adamStep = state.step;
    }
  };

  private trainSession(constants: OnnxTrainConstants, mode: "step" | "gradients"): OnnxSession {
    const key = `${mode} ${constants.clipParam} ${constants.valueClipParam} ${constants.maxGradNorm} ${constants.beta1} ${constants.beta2}`;
    let session = this.trainSessions.get(key);
    if (session === undefined) {
      const model = buildTrainModel({ ...this.shape, ...constants }, mode);
      const outputs = mode === "step" ? [...LOSS_OUTPUTS, "W_out", "M_out", "V_out"] : [...LOSS_OUTPUTS, "G"];
      session = new OnnxSession(model, outputs, { intraOpThreads: this.threads });
      this.trainSessions.set(key, session);
    }
    return session;
  }

  /**
   * The graph inputs of a minibatch. Arrays are passed whole when the minibatch fills them (every
   * step but a pass's last), so the session wraps each in a tensor once; the scalars are this
   * object's own one-element arrays, rewritten in place.
   */
  private minibatchFeeds(mb: OnnxMinibatch, lossWeights: LossWeights, rate: number, eps: number): Record<string, readonly [Float32Array, readonly number[]]> {
    const { rows } = mb;
    const d = this.shape.actionDim;
    const rowsOf = (x: Float32Array, width: number): readonly [Float32Array, readonly number[]] => [x.length === rows * width ? x : x.subarray(0, rows * width), [rows, width]];
    const s = this.scalars;
    s.invRows[0] = 1 / rows;
    s.wPolicy[0] = lossWeights.policy;
    s.wValue[0] = lossWeights.value;
    s.wKl[0] = lossWeights.kl;
    s.wEntropy[0] = lossWeights.entropy;
    s.rate[0] = rate;
    s.eps[0] = eps;
    const feeds: Record<string, readonly [Float32Array, readonly number[]]> = {
      obs: rowsOf(mb.obs, this.shape.obsDim),
      act: rowsOf(mb.act, d),
      oldLogp: rowsOf(mb.oldLogp, 1),
      oldP0: rowsOf(mb.oldParams[0]!, d),
      oldV: rowsOf(mb.oldV, 1),
      adv: rowsOf(mb.adv, 1),
      ret: rowsOf(mb.ret, 1),
      W: [this.weights, this.flatDims]
    };
    for (const name of TRAIN_SCALARS) feeds[name] = [s[name], SCALAR_DIMS];
    if (this.shape.kind === "continuous") feeds.oldP1 = rowsOf(mb.oldParams[1]!, d);
    return feeds;
  }

  private static losses(out: Record<string, Float32Array>): OnnxLosses {
    const losses = {} as OnnxLosses;
    for (const k of LOSS_OUTPUTS) losses[k] = out[k]![0]!;
    return losses;
  }

  /** The losses and the gradient of their weighted sum (no update): for the gradient checks. */
  gradients(mb: OnnxMinibatch, constants: OnnxTrainConstants, lossWeights: LossWeights): { losses: OnnxLosses; gradients: WeightMap } {
    const out = this.trainSession(constants, "gradients").run(this.minibatchFeeds(mb, lossWeights, 0, 1));
    return { losses: OnnxNetworks.losses(out), gradients: this.toMap(out.G!) };
  }

  /**
   * One Adam step on the minibatch's PPO loss, with the bias corrections folded into the rate and
   * epsilon as `Adam.apply` folds them (`adamStepConstants`). The step reads the weights and
   * moments and writes their successors into the spare set, which then becomes the current one:
   * two sets of arrays serve every step, nothing is copied or allocated.
   */
  step(mb: OnnxMinibatch, constants: OnnxTrainConstants & Pick<AdamParams, "epsilon">, lossWeights: LossWeights, learningRate: number): OnnxLosses {
    this.adamStep += 1;
    const { rate, eps } = adamStepConstants(constants, learningRate, this.adamStep);
    const feeds = this.minibatchFeeds(mb, lossWeights, rate, eps);
    feeds.M = [this.firstMoments, this.flatDims];
    feeds.V = [this.secondMoments, this.flatDims];
    const next = this.spare;
    const dims = this.flatDims;
    const into: Record<string, readonly [Float32Array, readonly number[]]> = { W_out: [next.w, dims], M_out: [next.m, dims], V_out: [next.v, dims] };
    for (const k of LOSS_OUTPUTS) into[k] = [this.lossOutputs[k], SCALAR_DIMS];
    const out = this.trainSession(constants, "step").run(feeds, into);
    this.spare = { w: this.weights, m: this.firstMoments, v: this.secondMoments };
    this.weights = next.w;
    this.firstMoments = next.m;
    this.secondMoments = next.v;
    return OnnxNetworks.losses(out);
  }

  dispose(): void {
    this.forward.dispose();
    this.policyForward?.dispose();
    for (const s of this.trainSessions.values()) s.dispose();
    this.trainSessions.clear();
  }
}
