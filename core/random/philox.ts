/**
 * Counter-based random numbers: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy
 * as 1, 2, 3", SC 2011), the generator behind every random draw in the project (project conventions:
 * "every random draw comes from the seeded RNG of the run"). Philox is a keyed bijection on 128-bit
 * counters, so a stream is just a key, and splitting a stream into independent child streams is
 * deriving a child key from the parent key and a label. Results therefore never depend on how
 * work is scheduled: the stream of (iteration 7, episode 12) is the same whichever worker draws
 * it. Plain TypeScript with no framework imports, so domain code and the pipeline framework both
 * use it; the framework exposes it as the `Rng` service.
 */

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two unsigned 32-bit integers. */
const mulhi32 = (a: number, b: number): number => {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const lolo = aLo * bLo;
  const lohi = aLo * bHi;
  const hilo = aHi * bLo;
  const hihi = aHi * bHi;
  const mid = (lolo >>> 16) + (lohi & 0xffff) + (hilo & 0xffff);
  return (hihi + (lohi >>> 16) + (hilo >>> 16) + (mid >>> 16)) >>> 0;
};

/**
 * One Philox4x32-10 block: encrypts the counter (c0..c3) under key (k0, k1) and writes the four
 * output words into `out` starting at `offset`.
 */
export const philox4x32_10 = (
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
  offset = 0
): void => {
  let x0 = c0 >>> 0;
  let x1 = c1 >>> 0;
  let x2 = c2 >>> 0;
  let x3 = c3 >>> 0;
  let key0 = k0 >>> 0;
  let key1 = k1 >>> 0;
  for (let round = 0; round < 10; round++) {
    const hi0 = mulhi32(PHILOX_M0, x0);
    const lo0 = Math.imul(PHILOX_M0, x0) >>> 0;
    const hi1 = mulhi32(PHILOX_M1, x2);
    const lo1 = Math.imul(PHILOX_M1, x2) >>> 0;
    x0 = (hi1 ^ x1 ^ key0) >>> 0;
    x1 = lo1;
    x2 = (hi0 ^ x3 ^ key1) >>> 0;
    x3 = lo0;
    key0 = (key0 + PHILOX_W0) >>> 0;
    key1 = (key1 + PHILOX_W1) >>> 0;
  }
  out[offset] = x0;
  out[offset + 1] = x1;
  out[offset + 2] = x2;
  out[offset + 3] = x3;
};

/** FNV-1a over UTF-16 code units: turns a split label into 32 bits before it is mixed by Philox. */
const hashLabel = (label: string): number => {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
};

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

/**
 * A stream of random numbers. Draws advance a 64-bit block counter under a fixed 64-bit key;
 * `split(label)` derives an independent child stream without advancing this one.
 */
export class Random {
  private readonly buffer = new Uint32Array(4);
  private index = 4;
  private counterLo = 0;
  private counterHi = 0;
  private spareNormal = 0;
  private hasSpareNormal = false;

  private constructor(
    readonly key0: number,
    readonly key1: number
  ) {}

  /** The root stream of a run. Seeds are integers in [0, 2^53). */
  static fromSeed(seed: number): Random {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new RangeError(`A seed must be a non-negative safe integer, got ${seed}.`);
    }
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_POW_32) >>> 0;
    // Key derivation by encrypting the seed under a fixed key, so nearby seeds give unrelated keys.
    const out = new Uint32Array(4);
    philox4x32_10(lo, hi, 0x5eed5eed, 0, 0x243f6a88, 0x85a308d3, out);
    return new Random(out[0]!, out[1]!);
  }

  /** Rebuilds a stream from a key pair (as serialised by `keyPair`). */
  static fromKey(key0: number, key1: number): Random {
    return new Random(key0 >>> 0, key1 >>> 0);
  }

  /** The stream's identity: two 32-bit words. */
  keyPair(): readonly [number, number] {
    return [this.key0, this.key1];
  }

  /**
   * An independent child stream named by `label` (a string or a non-negative integer such as an
   * episode index). The same parent and label always give the same child.
   */
  split(label: string | number): Random {
    let a: number;
    let b: number;
    if (typeof label === "number") {
      if (!Number.isSafeInteger(label) || label < 0) {
        throw new RangeError(`A numeric split label must be a non-negative safe integer, got ${label}.`);
      }
      a = label >>> 0;
      b = Math.floor(label / TWO_POW_32) >>> 0;
    } else {
      a = hashLabel(label);
      b = label.length >>> 0;
    }
    const out = new Uint32Array(4);
    // The counter's top word tags derivations, so child keys never coincide with the parent's draws.
    philox4x32_10(a, b, typeof label === "number" ? 1 : 2, 0xffffffff, this.key0, this.key1, out);
    return new Random(out[0]! ^ out[2]!, out[1]! ^ out[3]!);
  }

  private refill(): void {
    philox4x32_10(this.counterLo, this.counterHi, 0, 0, this.key0, this.key1, this.buffer);
    this.counterLo = (this.counterLo + 1) >>> 0;
    if (this.counterLo === 0) this.counterHi = (this.counterHi + 1) >>> 0;
    this.index = 0;
  }

  /** A uniform unsigned 32-bit integer. */
  nextUint32(): number {
    if (this.index === 4) this.refill();
    return this.buffer[this.index++]!;
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / TWO_POW_53;
  }

  /** A uniform double in (0, 1], safe to take the logarithm of. */
  uniformPositive(): number {
    return 1 - this.uniform();
  }

  /** A uniform double in [lo, hi). */
  uniformIn(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** A uniform integer in [0, n), without modulo bias (Lemire's rejection method). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_32) {
      throw new RangeError(`int(n) needs an integer n in [1, 2^32], got ${n}.`);
    }
    if (n === 1) return 0;
    const threshold = (TWO_POW_32 - n) % n;
    for (;;) {
      const x = this.nextUint32();
      const product = x * n;
      const low = product % TWO_POW_32;
      if (low >= threshold) return Math.floor(product / TWO_POW_32);
    }
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.uniform() < p;
  }

  /** A standard normal draw (Box-Muller, pairs cached). */
  normal(): number {
    if (this.hasSpareNormal) {
      this.hasSpareNormal = false;
      return this.spareNormal;
    }
    const u = this.uniformPositive();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * v;
    this.spareNormal = r * Math.sin(theta);
    this.hasSpareNormal = true;
    return r * Math.cos(theta);
  }

  /** Shuffles the first `length` entries of `values` in place (Fisher-Yates). */
  shuffle<T extends { length: number; [i: number]: number }>(values: T, length = values.length): T {
    for (let i = length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = values[i]!;
      values[i] = values[j]!;
      values[j] = tmp;
    }
    return values;
  }
}
