/**
 * Reproducible randomness for the crash tests: the seed comes from CRASH_SEED when set (rerun a
 * failure with the seed its message printed), else a fresh one. mulberry32: small and fast, plenty
 * for choosing kill points.
 */
export function seededRandom(seed = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31))) {
  let state = seed;
  const random = () => {
    state = (state + 0x6d2b79f5) | 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
  return { seed, random };
}
