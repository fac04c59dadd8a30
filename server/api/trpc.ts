import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { ZodError } from "zod";
import { type SessionLike, viewerFromSession } from "../auth/viewer";
import type { Clock } from "../clock";
import type { Db } from "../db";
import { AppError, internalMessage, reportUnexpected } from "../errors";
import { checkJsonShape } from "../http/limits";
import type { Role } from "../schemas/common";

export interface Context {
  db: Db;
  clock: Clock;
  session: SessionLike | null;
}

const TRPC_CODE = {
  BAD_REQUEST: "BAD_REQUEST",
  UNAUTHORIZED: "UNAUTHORIZED",
  FORBIDDEN: "FORBIDDEN",
  NOT_FOUND: "NOT_FOUND",
  CONFLICT: "CONFLICT",
  UNPROCESSABLE: "UNPROCESSABLE_CONTENT",
  RATE_LIMITED: "TOO_MANY_REQUESTS",
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
} as const;

/** Error ids already given to an error, so the formatter and the middleware never log it twice. */
const errorIds = new WeakMap<object, string>();
function errorIdOf(where: string, err: Error): string {
  let id = errorIds.get(err);
  if (!id) {
    id = reportUnexpected(where, err.cause ?? err);
    errorIds.set(err, id);
  }
  return id;
}

const t = initTRPC.context<Context>().create({
  transformer: superjson,
  errorFormatter({ shape, error, path }) {
    const cause = error.cause;
    const field = cause instanceof ZodError ? cause.issues[0]?.path.join(".") : cause instanceof AppError ? cause.field : undefined;
    // Never the raw message, the stack or a Prisma query for an unexpected error: a generic text
    // with the id under which it was logged (once, redacted). Covers errors outside procedures too
    // (context creation, the body parser).
    const { stack: _stack, ...data } = shape.data;
    if (error.code === "INTERNAL_SERVER_ERROR") {
      const message = errorIds.has(error) ? error.message : internalMessage(errorIdOf(`tRPC ${path ?? "?"}`, error));
      return { ...shape, message, data: { ...data, field: null } };
    }
    const appCode = cause instanceof AppError ? (cause.publicCode ?? null) : null;
    // Structured details a domain error states for its client (ALWAYS_ON_REFUSED's reasons), the
    // same object REST puts in `error`.
    const details = cause instanceof AppError ? (cause.details ?? null) : null;
    return { ...shape, data: { ...data, field: field ?? null, appCode, details } };
  },
});

/** Domain errors become tRPC errors here, at the edge; services never import TRPCError. */
const mapErrors = t.middleware(async ({ next, path }) => {
  const res = await next();
  if (!res.ok && res.error.cause instanceof AppError) {
    const cause = res.error.cause;
    throw new TRPCError({ code: TRPC_CODE[cause.code], message: cause.message, cause });
  }
  if (!res.ok && res.error.code === "INTERNAL_SERVER_ERROR" && !errorIds.has(res.error)) {
    // Unexpected: log once under an id; the error that leaves (also through createCaller) carries
    // only the generic message — the original stays in the server log.
    const id = reportUnexpected(`tRPC ${path}`, res.error.cause ?? res.error);
    const safe = new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: internalMessage(id) });
    errorIds.set(safe, id);
    throw safe;
  }
  return res;
});

/**
 * The boundary's shape limits (server/http/limits.ts) on every procedure's raw input, before its
 * zod schema runs: too deep, too many keys, reserved keys → BAD_REQUEST naming the field.
 */
const limitInput = t.middleware(async ({ next, getRawInput }) => {
  checkJsonShape(await getRawInput());
  return next();
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

export const publicProcedure = t.procedure.use(mapErrors).use(limitInput);

export const authedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.session) throw new TRPCError({ code: "UNAUTHORIZED", message: "Sign in first" });
  return next({ ctx: { session: ctx.session } });
});

/** The tenant comes from the session's membership, never from input. */
export const tenantProcedure = authedProcedure.use(async ({ ctx, next }) => {
  const viewer = await viewerFromSession(ctx.db, ctx.session);
  if (!viewer) throw new TRPCError({ code: "FORBIDDEN", message: "You are not a member of any tenant" });
  return next({ ctx: { viewer } });
});

function requireRole(...roles: Role[]) {
  return tenantProcedure.use(({ ctx, next }) => {
    if (!roles.includes(ctx.viewer.role)) {
      throw new TRPCError({ code: "FORBIDDEN", message: `This needs the ${roles.join(" or ")} role` });
    }
    return next();
  });
}

export const adminProcedure = requireRole("ADMIN");
/** Deciding on intents: admins (any account) and sellers (their own accounts); auditors only read. */
export const reviewerProcedure = requireRole("ADMIN", "SELLER");
/** Read-only audit surfaces: admins and auditors. */
export const auditProcedure = requireRole("ADMIN", "AUDITOR");
