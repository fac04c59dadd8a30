import { AppError } from "../errors";

/**
 * Input limits at the boundary — the ONE place they are defined. REST bodies and query strings
 * (server/http/rest.ts) and every tRPC request (app/api/trpc route: body size; server/api/trpc.ts:
 * shape of each procedure's input) are checked here before anything is parsed further, validated
 * by zod or written. See docs/ARCHITECTURE.md "Input limits".
 *
 * Why shape limits on top of zod: fields typed `unknown` (signal evidence, intent parameters,
 * edited parameters) accept any JSON, and a value nested thousands of levels deep is accepted by
 * JSON.parse but overflows the stack of every recursive reader after it (canonical JSON, the
 * serializers, the UI) — once stored in the ledger it would break every later read.
 */
export const INPUT_LIMITS = {
  /** request body bytes (REST and tRPC); larger → 413 before the body is parsed */
  maxBodyBytes: 1024 * 1024,
  /** nesting depth of any JSON value (the top-level object is depth 1) */
  maxDepth: 32,
  /** keys in one object */
  maxKeysPerObject: 500,
  /** keys and array items in the whole value */
  maxNodes: 20_000,
  /** characters in one string or object key */
  maxStringLength: 100_000,
  /** characters in one query-string value */
  maxQueryValueLength: 2_000,
} as const;

export type InputLimits = typeof INPUT_LIMITS;

/**
 * Keys that name members of Object.prototype. Code that reads user objects with `obj[key]` sees
 * the inherited function for these (`constructor`, `toString`) or changes the prototype
 * (`__proto__`); refusing them at the boundary keeps user-supplied objects plain data everywhere.
 */
const RESERVED_KEYS = new Set(Object.getOwnPropertyNames(Object.prototype));

export function tooLarge(maxBytes: number): AppError {
  return new AppError("PAYLOAD_TOO_LARGE", `Request body is larger than ${maxBytes} bytes`, "body");
}

/**
 * Read a request body as text with a byte cap: a declared Content-Length over the cap is refused
 * before reading, and the stream is cut off as soon as it passes the cap (chunked uploads declare
 * nothing), so a 50 MB body never sits in memory.
 */
export async function readBodyText(req: Request, maxBytes: number = INPUT_LIMITS.maxBodyBytes): Promise<string> {
  const declared = Number(req.headers.get("content-length") ?? "");
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

const fieldOf = (path: (string | number)[]) => (path.length ? path.join(".") : "body");

/** PostgreSQL text cannot hold U+0000 (SQLite silently truncates at it): refused everywhere, on both databases alike. */
export const nulError = (field: string) => new AppError("BAD_REQUEST", `${field}: contains a NUL (U+0000) character`, field);

/**
 * Check a parsed JSON value against the shape limits. Iterative (an explicit stack), so the check
 * itself cannot overflow on hostile nesting. Throws 400 naming the offending field and why.
 */
export function checkJsonShape(value: unknown, limits: InputLimits = INPUT_LIMITS, root: (string | number)[] = []): void {
  const stack: { v: unknown; path: (string | number)[] }[] = [{ v: value, path: root }];
  let nodes = 0;
  while (stack.length > 0) {
    const { v, path } = stack.pop() as { v: unknown; path: (string | number)[] };
    if (typeof v === "string") {
      if (v.length > limits.maxStringLength)
        throw new AppError("BAD_REQUEST", `${fieldOf(path)}: string longer than ${limits.maxStringLength} characters`, fieldOf(path));
      if (v.includes("\u0000")) throw nulError(fieldOf(path));
      continue;
    }
    if (v === null || typeof v !== "object" || v instanceof Date) continue;
    const depth = path.length - root.length + 1;
    if (depth > limits.maxDepth)
      throw new AppError("BAD_REQUEST", `${fieldOf(path)}: nested deeper than ${limits.maxDepth} levels`, fieldOf(path));
    if (Array.isArray(v)) {
      nodes += v.length;
      if (nodes > limits.maxNodes) throw new AppError("BAD_REQUEST", `body: more than ${limits.maxNodes} keys and items in total`, "body");
      for (const [i, item] of v.entries()) stack.push({ v: item, path: [...path, i] });
      continue;
    }
    const keys = Object.keys(v);
    if (keys.length > limits.maxKeysPerObject)
      throw new AppError("BAD_REQUEST", `${fieldOf(path)}: more than ${limits.maxKeysPerObject} keys in one object`, fieldOf(path));
    nodes += keys.length;
    if (nodes > limits.maxNodes) throw new AppError("BAD_REQUEST", `body: more than ${limits.maxNodes} keys and items in total`, "body");
    for (const k of keys) {
      const at = fieldOf([...path, k.slice(0, 100)]);
      if (k.includes("\u0000")) throw nulError(at);
      if (RESERVED_KEYS.has(k)) throw new AppError("BAD_REQUEST", `${at}: "${k}" is a reserved name and cannot be used as a key`, at);
      if (k.length > limits.maxStringLength)
        throw new AppError("BAD_REQUEST", `${fieldOf(path)}: key longer than ${limits.maxStringLength} characters`, fieldOf(path));
      stack.push({ v: (v as Record<string, unknown>)[k], path: [...path, k] });
    }
  }
}

/** JSON text → value, or 400 on `body`; then the shape limits. */
export function parseJsonText(text: string): unknown {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new AppError("BAD_REQUEST", "Request body is not valid JSON", "body");
  }
  checkJsonShape(raw);
  return raw;
}

/** Media types a CSV upload may declare; a charset other than UTF-8 is refused, not guessed. */
const CSV_MEDIA_TYPES = new Set(["text/csv", "application/csv"]);

/**
 * Read a CSV upload (POST /api/v1/accounts/import): Content-Type must be text/csv (400 naming the
 * header otherwise, before a byte is read), then the same streaming byte cap as JSON bodies but
 * with the import's own, larger limit — the 1 MiB JSON cap above is not loosened.
 */
export async function readCsvBody(req: Request, maxBytes: number): Promise<string> {
  const declared = req.headers.get("content-type") ?? "";
  const [type = "", ...params] = declared.split(";").map((p) => p.trim().toLowerCase());
  if (!CSV_MEDIA_TYPES.has(type))
    throw new AppError("BAD_REQUEST", `Content-Type must be text/csv (got ${type.slice(0, 60) || "none"})`, "content-type");
  const charset = params.find((p) => p.startsWith("charset="))?.slice("charset=".length);
  if (charset && charset.replace(/"/g, "") !== "utf-8" && charset.replace(/"/g, "") !== "utf8")
    throw new AppError("BAD_REQUEST", "Content-Type charset must be utf-8", "content-type");
  return readBodyText(req, maxBytes);
}
