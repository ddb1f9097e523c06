import { describe, expect, it } from "vitest";
import { philox4x32_10, Random } from "../../core/random/philox.ts";

const hex = (out: Uint32Array) => Array.from(out, (x) => x.toString(16).padStart(8, "0")).join(" ");

describe("Philox4x32-10", () => {
  // Known-answer vectors published with Random123 (kat_vectors, philox4x32 10 rounds).
  it("matches the Random123 known-answer vectors", () => {
    const out = new Uint32Array(4);
    philox4x32_10(0, 0, 0, 0, 0, 0, out);
    expect(hex(out)).toBe("6627e8d5 e169c58d bc57ac4c 9b00dbd8");
    philox4x32_10(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, out);
    expect(hex(out)).toBe("408f276d 41c83b0e a20bc7c6 6d5451fd");
    philox4x32_10(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, out);
    expect(hex(out)).toBe("d16cfe09 94fdcceb 5001e420 24126ea1");
  });

  it("is deterministic per seed and differs across seeds", () => {
    const a = Random.fromSeed(42);
    const b = Random.fromSeed(42);
    const c = Random.fromSeed(43);
    const xs = Array.from({ length: 16 }, () => a.nextUint32());
    expect(Array.from({ length: 16 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 16 }, () => c.nextUint32())).not.toEqual(xs);
  });

  it("splits into streams that do not depend on the parent's draws", () => {
    const a = Random.fromSeed(7);
    const child1 = a.split("episode").split(3);
    a.uniform();
    a.uniform();
    const child2 = a.split("episode").split(3);
    expect(child1.uniform()).toBe(child2.uniform());
    expect(a.split(3).uniform()).not.toBe(a.split(4).uniform());
  });

  it("draws uniforms with mean 1/2 and normals with unit variance", () => {
    const r = Random.fromSeed(1);
    const n = 200_000;
    let su = 0;
    let sn = 0;
    let sn2 = 0;
    for (let i = 0; i < n; i++) {
      su += r.uniform();
      const z = r.normal();
      sn += z;
      sn2 += z * z;
    }
    expect(Math.abs(su / n - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(sn / n)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(sn2 / n - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
  });

  it("draws integers uniformly in range", () => {
    const r = Random.fromSeed(2);
    const counts = new Array<number>(7).fill(0);
    const n = 70_000;
    for (let i = 0; i < n; i++) counts[r.int(7)]!++;
    // Chi-square with 6 degrees of freedom; 22.46 is the 0.999 quantile.
    const chi2 = counts.reduce((s, c) => s + (c - n / 7) ** 2 / (n / 7), 0);
    expect(chi2).toBeLessThan(22.46);
  });
});
