/**
 * Canonical JSON: object keys sorted at every depth, no insignificant whitespace, Dates as ISO
 * strings. Hashing this text (not whatever JSON.stringify happened to produce) is what makes the
 * ledger chain reproducible by anyone who re-reads the rows.
 *
 * The text is written here rather than by JSON.stringify of a key-sorted copy: JavaScript objects
 * list integer-like keys ("0", "12") before all others whatever the insertion order, so a copy
 * would not stay sorted, and a verifier sorting keys itself (as RFC 8785 does) would disagree.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return "null";
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw new TypeError("canonicalJson: non-finite number");
      return JSON.stringify(value);
    case "bigint":
      return JSON.stringify(value.toString());
    case "object": {
      const members: string[] = [];
      for (const key of Object.keys(value as object).sort()) {
        const v = (value as Record<string, unknown>)[key];
        if (v !== undefined) members.push(`${JSON.stringify(key)}:${canonicalJson(v)}`);
      }
      return `{${members.join(",")}}`;
    }
    default:
      throw new TypeError(`canonicalJson: cannot serialise ${typeof value}`);
  }
}
