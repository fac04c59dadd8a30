import { betterAuth } from "better-auth";
import { prismaAdapter } from "better-auth/adapters/prisma";
import { nextCookies } from "better-auth/next-js";
import { systemClock } from "../clock";
import { type Db, getDb, providerOf } from "../db";
import { env } from "../env";
import { appendLedger } from "../repos/ledger";
import { listMembershipsOfUser } from "../repos/tenants";
import { inTransaction } from "../repos/tx";
import { CLIENT_IP_HEADER, type ClientIpConfig } from "./clientIp";

export interface AuthConfig {
  secret: string;
  baseURL: string;
  trustedOrigins: string[];
  databaseUrl: string;
  signInPerMinute: number;
}

/**
 * better-auth owns users, credentials (scrypt-hashed passwords) and sessions. Tenancy is ours:
 * the session carries `activeTenantId`, chosen at sign-in from the user's memberships and
 * re-checked against Membership on every request (server/auth/viewer.ts).
 */
export function createAuth(db: Db, cfg: AuthConfig) {
  return betterAuth({
    secret: cfg.secret,
    baseURL: cfg.baseURL,
    trustedOrigins: cfg.trustedOrigins,
    telemetry: { enabled: false },
    database: prismaAdapter(db, { provider: providerOf(cfg.databaseUrl) === "postgresql" ? "postgresql" : "sqlite" }),
    emailAndPassword: {
      enabled: true,
      // Accounts are provisioned by an admin or the seed, never by self-service sign-up.
      disableSignUp: true,
      minPasswordLength: 8,
    },
    account: { modelName: "authAccount" },
    session: {
      expiresIn: 60 * 60 * 24 * 7,
      additionalFields: { activeTenantId: { type: "string", required: false, input: false } },
    },
    // The limiter keys on the address server/auth/clientIp.ts resolved — never on a header the
    // client can choose (X-Forwarded-For counts only behind TRUSTED_PROXY_HOPS proxies).
    advanced: { ipAddress: { ipAddressHeaders: [CLIENT_IP_HEADER] } },
    rateLimit: {
      enabled: true,
      // Stored in the database so every app instance enforces one shared limit.
      storage: "database",
      modelName: "rateLimit",
      window: 60,
      max: 300,
      customRules: { "/sign-in/email": { window: 60, max: cfg.signInPerMinute } },
    },
    databaseHooks: {
      session: {
        create: {
          before: async (session) => {
            const [first] = await listMembershipsOfUser(db, session.userId);
            return { data: { ...session, activeTenantId: first?.tenantId ?? null } };
          },
          after: async (session) => {
            const tenantId = (session as { activeTenantId?: string | null }).activeTenantId;
            if (!tenantId) return;
            const now = systemClock.now();
            await inTransaction(db, (tx) =>
              appendLedger(
                tx,
                {
                  tenantId,
                  type: "SIGN_IN",
                  actor: { type: "USER", id: session.userId },
                  payload: { user_id: session.userId, user_agent: session.userAgent ?? null },
                },
                now,
              ),
            );
          },
        },
      },
    },
    plugins: [nextCookies()],
  });
}

export type Auth = ReturnType<typeof createAuth>;

export function clientIpConfigFromEnv(): ClientIpConfig {
  const e = env();
  return { trustedProxyHops: e.TRUSTED_PROXY_HOPS, edgeSecret: e.AUTOPILOT_EDGE_SECRET };
}

export function authConfigFromEnv(): AuthConfig {
  const e = env();
  const baseURL = e.BETTER_AUTH_URL ?? `http://localhost:${e.PORT}`;
  if (!e.BETTER_AUTH_SECRET) {
    throw new Error("BETTER_AUTH_SECRET is not set (npm start generates one under ./data; see README)");
  }
  const extra = (e.BETTER_AUTH_TRUSTED_ORIGINS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    secret: e.BETTER_AUTH_SECRET,
    baseURL,
    trustedOrigins: [baseURL, ...extra],
    databaseUrl: e.DATABASE_URL,
    signInPerMinute: e.AUTH_SIGNIN_RATE_LIMIT,
  };
}

const globalForAuth = globalThis as unknown as { __autopilotAuth?: Auth };

export function getAuth(): Auth {
  globalForAuth.__autopilotAuth ??= createAuth(getDb(), authConfigFromEnv());
  return globalForAuth.__autopilotAuth;
}
