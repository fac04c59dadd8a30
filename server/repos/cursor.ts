import { z } from "zod";
import { badRequest } from "../errors";

/**
 * Opaque page cursors: base64url of a small JSON object the repo chose. Decoding is strict (zod):
 * a cursor is client input, so anything that is not exactly what we encode — wrong types, a
 * number Prisma cannot bind (`{"s":1e20}`), a date that does not parse, extra keys — is 400 on
 * `cursor`, never a database error.
 */
const MAX_MS = 8.64e15; // the Date range
const KINDS = {
  /** a row id */
  id: z.string().min(1).max(64),
  /** an ISO timestamp we wrote with toISOString() */
  iso: z.iso.datetime(),
  /** a 32-bit non-negative integer (ledger seq, an Int column) */
  int32: z.number().int().min(0).max(2_147_483_647),
  /** epoch milliseconds within the Date range */
  epochMs: z.number().int().min(-MAX_MS).max(MAX_MS),
} as const;

type Kind = keyof typeof KINDS;
type Decoded<S extends Record<string, Kind>> = { [K in keyof S]: z.infer<(typeof KINDS)[S[K]]> };

export function encodeCursor(value: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

const invalid = () => badRequest("cursor", "cursor is not valid; pass next_cursor from a previous page unchanged");

export function decodeCursor<S extends Record<string, Kind>>(cursor: string, shape: S): Decoded<S> {
  if (cursor.length > 512 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalid();
  }
  const schema = z.strictObject(Object.fromEntries(Object.entries(shape).map(([k, kind]) => [k, KINDS[kind]])));
  const res = schema.safeParse(parsed);
  if (!res.success) throw invalid();
  return res.data as Decoded<S>;
}
