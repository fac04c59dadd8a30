/**
 * Canonical JSON: object keys sorted at every depth, no insignificant whitespace, Dates as ISO
 * strings. Hashing this text (not whatever JSON.stringify happened to produce) is what makes the
 * ledger chain reproducible by anyone who re-reads the rows.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(normalise(value));
}

function normalise(value: unknown): unknown {
  if (value === null) return null;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : normalise(v)));
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (!Number.isFinite(value)) throw new TypeError("canonicalJson: non-finite number");
      return value;
    case "bigint":
      return value.toString();
    case "object": {
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(value as object).sort()) {
        const v = (value as Record<string, unknown>)[key];
        // defineProperty: a `__proto__` key is data, never a prototype change.
        if (v !== undefined) Object.defineProperty(out, key, { value: normalise(v), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    default:
      throw new TypeError(`canonicalJson: cannot serialise ${typeof value}`);
  }
}
