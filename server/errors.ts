import { randomBytes } from "node:crypto";
import { redactText } from "./engine/redact";

/**
 * Typed domain errors. Services throw these; only the edges (tRPC error formatter, REST helper)
 * translate them into TRPCError codes or HTTP statuses.
 */
export type AppErrorCode =
  | "BAD_REQUEST"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "CONFLICT"
  | "PAYLOAD_TOO_LARGE"
  | "UNPROCESSABLE"
  | "RATE_LIMITED";

export class AppError extends Error {
  constructor(
    readonly code: AppErrorCode,
    message: string,
    readonly field?: string,
    /** a contract's own code (e.g. SHADOW_GATE_NOT_PASSED) shown instead of `code`; the HTTP status still follows `code` */
    readonly publicCode?: string,
    /** extra fields of a contract's error body (e.g. ALWAYS_ON_REFUSED's `reasons`), shown beside code and message */
    readonly details?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
    this.name = "AppError";
  }
}

export const notFound = (what: string) => new AppError("NOT_FOUND", `${what} not found`);
export const forbidden = (message = "You do not have access to this") => new AppError("FORBIDDEN", message);
export const badRequest = (field: string, message: string) => new AppError("BAD_REQUEST", message, field);

export const HTTP_STATUS: Record<AppErrorCode, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNPROCESSABLE: 422,
  RATE_LIMITED: 429,
};

const MAX_LOGGED = 2000;

/** One line for the server log: class, message and cause, redacted, no stack, bounded. */
export function describeUnexpected(err: unknown): string {
  const base = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const cause = err instanceof Error && err.cause instanceof Error ? ` (cause: ${err.cause.name}: ${err.cause.message})` : "";
  const text = redactText(`${base}${cause}`.replace(/\s+/g, " ").trim());
  return text.length > MAX_LOGGED ? `${text.slice(0, MAX_LOGGED - 1)}…` : text;
}

export type ErrorLogger = (line: string) => void;
const defaultLogger: ErrorLogger = (line) => console.error(line);

/**
 * An unexpected error (a bug, a database fault) at an edge: logged once, server-side, redacted,
 * under a fresh error id; the caller only ever sees the id. Returns the id.
 */
export function reportUnexpected(where: string, err: unknown, log: ErrorLogger = defaultLogger): string {
  const id = `err_${randomBytes(6).toString("hex")}`;
  log(`[${id}] ${where} failed: ${describeUnexpected(err)}`);
  return id;
}

/** The message a client sees for an unexpected error: generic, with the id to quote to support. */
export const internalMessage = (errorId: string) => `Something went wrong on our side (error id ${errorId})`;

/**
 * A unique index refused a write. Prisma reports it as P2002 from model queries, but from typed
 * raw queries (the gate's multi-row INSERTs) as P2010 carrying the driver adapter's
 * UniqueConstraintViolation — on both SQLite and PostgreSQL.
 */
export function isUniqueViolation(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const e = err as { code?: string; meta?: { driverAdapterError?: { cause?: { kind?: string } } } };
  return e.code === "P2002" || (e.code === "P2010" && e.meta?.driverAdapterError?.cause?.kind === "UniqueConstraintViolation");
}
