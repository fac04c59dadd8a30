import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { ZodError } from "zod";
import { type SessionLike, viewerFromSession } from "../auth/viewer";
import type { Clock } from "../clock";
import type { Db } from "../db";
import { AppError } from "../errors";
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
} as const;

const t = initTRPC.context<Context>().create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    const field = cause instanceof ZodError ? cause.issues[0]?.path.join(".") : cause instanceof AppError ? cause.field : undefined;
    return { ...shape, data: { ...shape.data, field: field ?? null } };
  },
});

/** Domain errors become tRPC errors here, at the edge; services never import TRPCError. */
const mapErrors = t.middleware(async ({ next }) => {
  const res = await next();
  if (!res.ok && res.error.cause instanceof AppError) {
    const cause = res.error.cause;
    throw new TRPCError({ code: TRPC_CODE[cause.code], message: cause.message, cause });
  }
  return res;
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

export const publicProcedure = t.procedure.use(mapErrors);

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
