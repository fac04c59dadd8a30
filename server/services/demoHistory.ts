import type { Actor } from "../engine/ledger";

/**
 * The demo history's human decisions were made by nobody: they are recorded under this clearly
 * named system actor, never a real user's name, and every screen labels them as simulated.
 */
export const DEMO_HISTORY_ACTOR = { type: "SYSTEM", id: "demo-history" } as const satisfies Actor;
export const DEMO_HISTORY_LABEL = "Demo history (simulated)";

/** The demo's seeded PRNG (mulberry32): every demo value, and every simulated decision, is drawn from it. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  return { next, pick, int };
}
