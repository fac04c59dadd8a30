/**
 * Reading JSON we stored earlier (ledger payloads, evidence) for display. One bad row must never
 * make a list answer 500: rows written before the boundary limits existed may nest thousands of
 * levels (which overflows the recursive serializers and renderers after us) or not parse at all.
 * So parsing never throws, and anything below `maxDepth` is replaced by a marker. Iterative, so
 * the reader itself cannot overflow. The stored text — what the ledger hash covers — is untouched.
 */
export const STORED_JSON_MAX_DEPTH = 24;
export const TOO_DEEP = "[nested too deep to show]";

export function readStoredJson(text: string | null | undefined, maxDepth = STORED_JSON_MAX_DEPTH): unknown {
  if (text === null || text === undefined) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { unreadable: true, note: "stored JSON could not be parsed" };
  }
  return prune(value, maxDepth);
}

/** A copy of `value` whose containers below `maxDepth` are replaced by TOO_DEEP. */
export function prune(value: unknown, maxDepth = STORED_JSON_MAX_DEPTH): unknown {
  const root: { v: unknown } = { v: undefined };
  const stack: { src: unknown; depth: number; set: (v: unknown) => void }[] = [{ src: value, depth: 1, set: (v) => (root.v = v) }];
  while (stack.length > 0) {
    const { src, depth, set } = stack.pop() as (typeof stack)[number];
    if (src === null || typeof src !== "object") {
      set(src);
    } else if (depth > maxDepth) {
      set(TOO_DEEP);
    } else if (Array.isArray(src)) {
      const out: unknown[] = new Array(src.length);
      set(out);
      for (const [i, item] of src.entries()) stack.push({ src: item, depth: depth + 1, set: (v) => (out[i] = v) });
    } else {
      const out: Record<string, unknown> = {};
      set(out);
      for (const [k, v] of Object.entries(src)) {
        Object.defineProperty(out, k, { value: undefined, enumerable: true, writable: true, configurable: true });
        stack.push({ src: v, depth: depth + 1, set: (x) => (out[k] = x) });
      }
    }
  }
  return root.v;
}

/** The stored value as an object for code that reads fields from it; anything else → {}. */
export function storedObject(text: string | null | undefined): Record<string, unknown> {
  const v = readStoredJson(text);
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
