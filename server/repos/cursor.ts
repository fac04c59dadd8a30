import { badRequest } from "../errors";

export function encodeCursor(value: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

/** A cursor that does not decode to the expected shape is the caller's mistake: 400, not 500. */
export function decodeCursor<K extends string>(cursor: string, keys: Record<K, "string" | "number">): Record<K, string & number> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw badRequest("cursor", "cursor is not valid; pass next_cursor from a previous page unchanged");
  }
  if (!parsed || typeof parsed !== "object") throw badRequest("cursor", "cursor is not valid");
  for (const [k, t] of Object.entries(keys)) {
    if (typeof (parsed as Record<string, unknown>)[k] !== t) throw badRequest("cursor", "cursor is not valid");
  }
  return parsed as Record<K, string & number>;
}
