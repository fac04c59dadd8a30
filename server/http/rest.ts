import { createHmac, timingSafeEqual } from "node:crypto";
import { type ZodType, z } from "zod";
import { type Clock, systemClock } from "../clock";
import { type Db, getDb } from "../db";
import { AppError, HTTP_STATUS, internalMessage, reportUnexpected } from "../errors";
import type { Viewer } from "../repos/scope";
import type { ApiKeyScope } from "../schemas/common";
import { type ApiPrincipal, authenticateApiKey } from "../services/apiKeys";
import { checkJsonShape, INPUT_LIMITS, nulError, parseJsonText, readBodyText } from "./limits";

/**
 * The REST v1 edge: API-key auth, scope check, input parsing, error shape. Handlers get a viewer
 * whose tenant is the key's tenant — request input never names a tenant.
 */
export interface RestContext<P> {
  req: Request;
  params: P;
  db: Db;
  clock: Clock;
  principal: ApiPrincipal;
  viewer: Viewer;
}

export interface RestDeps {
  db: () => Db;
  clock: Clock;
}

const defaultDeps: RestDeps = { db: getDb, clock: systemClock };

export function errorResponse(status: number, code: string, message: string, field?: string, details?: Readonly<Record<string, unknown>>) {
  // details first: a contract's extra fields never overwrite code, message or field.
  return Response.json({ error: { ...details, code, message, ...(field ? { field } : {}) } }, { status });
}

function toResponse(err: unknown): Response {
  if (err instanceof AppError) {
    const res = errorResponse(HTTP_STATUS[err.code], err.publicCode ?? err.code, err.message, err.field, err.details);
    // A rate limit's hint (details.retry_after_seconds) is also the standard header.
    const retry = err.details?.retry_after_seconds;
    if (typeof retry === "number") res.headers.set("retry-after", String(retry));
    return res;
  }
  if (err instanceof z.ZodError) {
    const issue = err.issues[0];
    const field = issue?.path.join(".") || "body";
    return errorResponse(400, "BAD_REQUEST", `${field}: ${issue?.message ?? "invalid"}`, field);
  }
  // Unexpected: logged once server-side (redacted) under an id; the client gets only the id.
  return errorResponse(500, "INTERNAL", internalMessage(reportUnexpected("REST handler", err)));
}

export function restRoute<P = Record<string, never>>(
  scopes: ApiKeyScope[],
  handler: (ctx: RestContext<P>) => Promise<Response | unknown>,
  deps: RestDeps = defaultDeps,
) {
  return async (req: Request, route?: { params?: Promise<P> }): Promise<Response> => {
    try {
      const db = deps.db();
      const principal = await authenticateApiKey(db, req.headers.get("authorization"), deps.clock);
      // The admin scope implies every other scope: an admin key can do anything in its tenant.
      if (!scopes.some((s) => principal.scopes.includes(s)) && !principal.scopes.includes("admin")) {
        throw new AppError("FORBIDDEN", `This API key lacks the ${scopes.join(" or ")} scope`);
      }
      const viewer: Viewer = { tenantId: principal.tenantId, actor: { type: "API_KEY", id: principal.keyId }, role: null, userId: null };
      const params = ((await route?.params) ?? {}) as P;
      checkJsonShape(params); // path segments are input too (length, NUL)
      const out = await handler({ req, params, db, clock: deps.clock, principal, viewer });
      return out instanceof Response ? out : Response.json(out);
    } catch (err) {
      return toResponse(err);
    }
  };
}

/**
 * Parse a JSON body: read with the byte cap (413), then malformed JSON, the shape limits
 * (server/http/limits.ts) and schema violations are all 400 naming the field.
 */
export async function jsonBody<T>(req: Request, schema: ZodType<T>): Promise<T> {
  return schema.parse(parseJsonText(await readBodyText(req)));
}

/**
 * Verify `X-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>` (the `sha256=` prefix is
 * optional) when the key requires signed pushes, then parse. Constant-time comparison.
 */
export async function signedJsonBody<T>(req: Request, secret: string | null, schema: ZodType<T>): Promise<T> {
  const text = await readBodyText(req);
  if (secret) {
    const header = (req.headers.get("x-signature") ?? "").replace(/^sha256=/, "");
    const expected = createHmac("sha256", secret).update(text).digest();
    const given = /^[0-9a-f]{64}$/i.test(header) ? Buffer.from(header, "hex") : Buffer.alloc(0);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new AppError(
        "UNAUTHORIZED",
        "X-Signature is missing or does not match the body (HMAC-SHA256 with this key's signing secret)",
        "X-Signature",
      );
    }
  }
  return schema.parse(parseJsonText(text));
}

/** Query string → schema; an over-long value is 400 on its name before zod sees it. */
export function queryParams<T>(req: Request, schema: ZodType<T>): T {
  const url = new URL(req.url);
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams.entries()) {
    const field = k.slice(0, 100);
    if (v.length > INPUT_LIMITS.maxQueryValueLength || k.length > 100)
      throw new AppError("BAD_REQUEST", `${field}: longer than ${INPUT_LIMITS.maxQueryValueLength} characters`, field);
    if (v.includes("\u0000") || k.includes("\u0000")) throw nulError(field);
    Object.defineProperty(query, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return schema.parse(query);
}

/** Wraps handlers that need no API key (health) so they share the error shape. */
export function publicRoute(handler: (req: Request) => Promise<Response>) {
  return async (req: Request) => {
    try {
      return await handler(req);
    } catch (err) {
      return toResponse(err);
    }
  };
}
