import type { Clock } from "../clock";
import { redactText } from "../engine/redact";
import { CallRefusedError } from "./types";

/**
 * A client for HubSpot's CRM v3 REST API (SPEC §4.4) at a configurable base URL
 * (https://api.hubapi.com in production, a local stand-in in tests), authenticated with a
 * private-app token as `Authorization: Bearer …`.
 *
 * It is a pure I/O adapter: no database. The throttle state every instance must obey is behind
 * the `CrmThrottle` port (the sync service backs it with ConnectorState rows), asked before every
 * request and told about every response:
 *  - a 429 blocks until its `Retry-After` (seconds) has passed — for every instance;
 *  - `X-HubSpot-RateLimit-Remaining` / `-Interval-Milliseconds` are remembered; when Remaining
 *    reaches 0 nobody sends until that interval has passed, so the CRM's limit is not exceeded.
 * A wait up to `maxWaitMs` is slept through (the injected `sleep`); a longer one stops the caller
 * with a CrmError("THROTTLED") that names when the CRM can be asked again.
 *
 * The token never leaves this file except in the Authorization header: errors are built from the
 * status and HubSpot's own message, passed through the redactor and additionally scrubbed of the
 * token string itself.
 */

export type CrmObjectType = "companies" | "contacts" | "deals";

export interface CrmRecord {
  id: string;
  properties: Record<string, string | null>;
  /** the record's `updatedAt` (ISO), present on every v3 object response */
  updatedAt: string | null;
  /** associated ids by object type (only what was asked for) */
  associations: Partial<Record<CrmObjectType, string[]>>;
}

export interface CrmObservation {
  status: number;
  retryAfterMs: number | null;
  remaining: number | null;
  max: number | null;
  intervalMs: number | null;
  dailyRemaining: number | null;
}

export interface CrmThrottle {
  /** Before a request: when the caller may send (null = now). May take a slot of a known window. */
  acquire(now: Date): Promise<Date | null>;
  /** After a response (any status): what the CRM said about its limit. */
  observe(obs: CrmObservation, now: Date): Promise<void>;
}

export type CrmErrorCode = "UNAUTHORIZED" | "THROTTLED" | "NOT_FOUND" | "REJECTED" | "UNAVAILABLE";

export class CrmError extends Error {
  override name = "CrmError";
  constructor(
    readonly code: CrmErrorCode,
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    readonly blockedUntil?: Date,
  ) {
    super(message);
  }
}

export interface HubSpotOptions {
  baseUrl: string;
  token: string;
  throttle: CrmThrottle;
  clock: Clock;
  /** waits out a throttle; tests pass one that moves their clock */
  sleep?: (ms: number) => Promise<void>;
  /** longest throttle wait slept through; longer → CrmError THROTTLED (default 15 s) */
  maxWaitMs?: number;
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** page size for list and search (HubSpot allows up to 100 for both) */
  pageSize?: number;
  /** HubSpot's search refuses to page past 10,000 results; a search restarts from the last seen modified date there */
  searchCap?: number;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const intHeader = (h: Headers, name: string) => {
  const v = h.get(name);
  if (v === null || v.trim() === "") return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
};

/** The parts of a response the throttle needs; exported for the fake server's tests. */
export function observationOf(res: Response): CrmObservation {
  const retryAfter = res.headers.get("retry-after");
  let retryAfterMs: number | null = null;
  if (retryAfter !== null) {
    const secs = Number(retryAfter);
    if (Number.isFinite(secs)) retryAfterMs = Math.max(0, secs * 1000);
    else {
      const at = Date.parse(retryAfter);
      if (!Number.isNaN(at)) retryAfterMs = Math.max(0, at - Date.now());
    }
  }
  return {
    status: res.status,
    retryAfterMs,
    remaining: intHeader(res.headers, "x-hubspot-ratelimit-remaining"),
    max: intHeader(res.headers, "x-hubspot-ratelimit-max"),
    intervalMs: intHeader(res.headers, "x-hubspot-ratelimit-interval-milliseconds"),
    dailyRemaining: intHeader(res.headers, "x-hubspot-ratelimit-daily-remaining"),
  };
}

const MAX_ATTEMPTS = 6;

export class HubSpotClient {
  private readonly base: string;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly maxWaitMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;
  readonly pageSize: number;
  private readonly searchCap: number;
  /** requests sent (for the sync's counts) */
  requests = 0;

  constructor(private readonly opts: HubSpotOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, "");
    this.sleep = opts.sleep ?? realSleep;
    this.maxWaitMs = opts.maxWaitMs ?? 15_000;
    this.fetchImpl = opts.fetch ?? fetch;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.pageSize = Math.min(Math.max(opts.pageSize ?? 100, 1), 100);
    this.searchCap = opts.searchCap ?? 10_000;
  }

  /** A message safe to store and show: redacted, and never the token even if it looks harmless. */
  private safe(text: string): string {
    const t = this.opts.token;
    let out = redactText(text);
    if (t) out = out.split(t).join("[REDACTED]");
    return out.slice(0, 300);
  }

  private async waitTurn(): Promise<void> {
    for (let i = 0; i < MAX_ATTEMPTS * 2; i++) {
      const now = this.opts.clock.now();
      const until = await this.opts.throttle.acquire(now);
      if (!until || until.getTime() <= now.getTime()) return;
      const wait = until.getTime() - now.getTime();
      if (wait > this.maxWaitMs) {
        throw new CrmError(
          "THROTTLED",
          `the CRM's rate limit is exhausted until ${until.toISOString()}; stopped instead of waiting ${Math.ceil(wait / 1000)} s`,
          true,
          429,
          until,
        );
      }
      await this.sleep(wait);
    }
    throw new CrmError("THROTTLED", "the CRM's rate limit kept every request waiting; stopped", true, 429);
  }

  /** One HTTP exchange with throttle, 429 retry and error mapping. Returns the parsed JSON body. */
  async request(
    method: "GET" | "POST" | "PATCH",
    path: string,
    opts: { query?: Record<string, string | undefined>; body?: unknown; idempotencyKey?: string } = {},
  ): Promise<Record<string, unknown>> {
    const url = new URL(`${this.base}${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      await this.waitTurn();
      let res: Response;
      try {
        this.requests++;
        res = await this.fetchImpl(url, {
          method,
          headers: {
            authorization: `Bearer ${this.opts.token}`,
            accept: "application/json",
            ...(opts.body !== undefined ? { "content-type": "application/json" } : {}),
            // HubSpot's CRM v3 object endpoints do not document an idempotency header and may
            // ignore it; we send it for middlewares and proxies that honour it and ALSO dedupe
            // locally (a tool call that already SUCCEEDED for this key is never re-sent).
            ...(opts.idempotencyKey ? { "idempotency-key": opts.idempotencyKey } : {}),
          },
          body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
          signal: AbortSignal.timeout(this.timeoutMs),
          redirect: "error",
        });
      } catch (err) {
        // Refused by the resilience wrapper (breaker open, no slot): nothing was sent; say so.
        if (err instanceof CallRefusedError) throw err;
        const why = err instanceof Error && err.name === "TimeoutError" ? "timed out" : "could not be reached";
        throw new CrmError("UNAVAILABLE", `the CRM at ${this.safe(url.origin)} ${why}`, true);
      }
      await this.opts.throttle.observe(observationOf(res), this.opts.clock.now());
      if (res.status === 429) {
        await res.body?.cancel();
        continue; // the throttle now holds Retry-After: waitTurn() waits it out (or stops)
      }
      const text = await res.text();
      if (res.status === 401 || res.status === 403) {
        throw new CrmError(
          "UNAUTHORIZED",
          res.status === 401
            ? "the CRM rejected the token (401); set a valid private-app token on the crm connector"
            : "the CRM refused this token the needed scopes (403); grant the private app crm.objects read/write scopes",
          false,
          res.status,
        );
      }
      let json: Record<string, unknown> = {};
      try {
        json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        if (res.ok) throw new CrmError("UNAVAILABLE", `the CRM answered ${res.status} with a body that is not JSON`, true, res.status);
      }
      if (res.ok) return json;
      const msg = typeof json.message === "string" ? json.message : text.slice(0, 200);
      if (res.status === 404) throw new CrmError("NOT_FOUND", `the CRM has no such record (404): ${this.safe(msg)}`, false, 404);
      if (res.status >= 500) throw new CrmError("UNAVAILABLE", `the CRM answered ${res.status}: ${this.safe(msg)}`, true, res.status);
      throw new CrmError("REJECTED", `the CRM rejected the request (${res.status}): ${this.safe(msg)}`, false, res.status);
    }
    throw new CrmError("THROTTLED", `the CRM answered 429 ${MAX_ATTEMPTS} times in a row; stopped`, true, 429);
  }

  private static record(raw: unknown): CrmRecord {
    const r = (raw ?? {}) as {
      id?: unknown;
      properties?: Record<string, unknown>;
      associations?: Record<string, unknown>;
      updatedAt?: unknown;
    };
    const properties: Record<string, string | null> = {};
    for (const [k, v] of Object.entries(r.properties ?? {})) properties[k] = v === null || v === undefined ? null : String(v);
    const associations: CrmRecord["associations"] = {};
    for (const [type, v] of Object.entries(r.associations ?? {})) {
      const key = type as CrmObjectType;
      const results = ((v as { results?: { id?: unknown }[] })?.results ?? []).map((x) => String(x.id));
      associations[key] = [...new Set([...(associations[key] ?? []), ...results])];
    }
    return { id: String(r.id), properties, associations, updatedAt: typeof r.updatedAt === "string" ? r.updatedAt : null };
  }

  /** One page of `GET /crm/v3/objects/{type}`; `next` is the `after` cursor of the next page. */
  async listPage(type: CrmObjectType, properties: readonly string[], associations: CrmObjectType[], after?: string) {
    const json = await this.request("GET", `/crm/v3/objects/${type}`, {
      query: {
        limit: String(this.pageSize),
        after,
        properties: properties.join(","),
        associations: associations.length ? associations.join(",") : undefined,
        archived: "false",
      },
    });
    const next = (json.paging as { next?: { after?: unknown } } | undefined)?.next?.after;
    return { results: ((json.results as unknown[]) ?? []).map(HubSpotClient.record), next: next ? String(next) : null };
  }

  /** Every record of a type, page by page. */
  async *listAll(type: CrmObjectType, properties: readonly string[], associations: CrmObjectType[] = []) {
    let after: string | undefined;
    do {
      const page = await this.listPage(type, properties, associations, after);
      yield* page.results;
      after = page.next ?? undefined;
    } while (after);
  }

  /**
   * Records modified at or after `sinceMs`, oldest first, through
   * `POST /crm/v3/objects/{type}/search` (filter GTE on hs_lastmodifieddate, sorted ascending).
   * HubSpot refuses `after` past its result cap (10,000): there the search starts again from the
   * last modified date seen, and records already yielded with that same date are skipped.
   */
  async *searchModifiedSince(type: CrmObjectType, sinceMs: number, properties: readonly string[]) {
    let since = sinceMs;
    let after: string | undefined;
    let yieldedAtBoundary = new Set<string>();
    let lastSeen = sinceMs;
    for (let guard = 0; guard < 10_000; guard++) {
      const json = await this.request("POST", `/crm/v3/objects/${type}/search`, {
        body: {
          filterGroups: [{ filters: [{ propertyName: MODIFIED_PROPERTY[type], operator: "GTE", value: String(since) }] }],
          sorts: [{ propertyName: MODIFIED_PROPERTY[type], direction: "ASCENDING" }],
          properties: [...properties],
          limit: this.pageSize,
          ...(after ? { after } : {}),
        },
      });
      const results = ((json.results as unknown[]) ?? []).map(HubSpotClient.record);
      for (const r of results) {
        const m = Number(crmModified(r) ?? since);
        if (m === since && yieldedAtBoundary.has(r.id)) continue;
        if (m > lastSeen) {
          lastSeen = m;
          yieldedAtBoundary = new Set();
        }
        if (m === lastSeen) yieldedAtBoundary.add(r.id);
        yield r;
      }
      const next = (json.paging as { next?: { after?: unknown } } | undefined)?.next?.after;
      if (!next) return;
      if (Number(next) >= this.searchCap) {
        if (lastSeen === since && after !== undefined) {
          // Every record of a whole window shares one modified time: cannot move past it.
          throw new CrmError("REJECTED", `more than ${this.searchCap} records share one modified time; cannot page further`, false);
        }
        since = lastSeen;
        after = undefined;
      } else after = String(next);
    }
  }

  async get(type: CrmObjectType, id: string, properties: readonly string[], associations: CrmObjectType[] = []) {
    const json = await this.request("GET", `/crm/v3/objects/${type}/${encodeURIComponent(id)}`, {
      query: { properties: properties.join(","), associations: associations.length ? associations.join(",") : undefined },
    });
    return HubSpotClient.record(json);
  }

  /** HubSpot owners (`GET /crm/v3/owners`): id → email, to map `hubspot_owner_id` to a member. */
  async owners(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    let after: string | undefined;
    do {
      const json = await this.request("GET", "/crm/v3/owners", { query: { limit: "100", after } });
      for (const o of (json.results as { id?: unknown; email?: unknown }[]) ?? []) {
        if (o.id !== undefined && typeof o.email === "string") out.set(String(o.id), o.email.toLowerCase());
      }
      const next = (json.paging as { next?: { after?: unknown } } | undefined)?.next?.after;
      after = next ? String(next) : undefined;
    } while (after);
    return out;
  }

  updateCompany(id: string, properties: Record<string, string>, idempotencyKey: string) {
    return this.request("PATCH", `/crm/v3/objects/companies/${encodeURIComponent(id)}`, { body: { properties }, idempotencyKey });
  }

  createDeal(properties: Record<string, string>, companyId: string | null, idempotencyKey: string) {
    return this.request("POST", "/crm/v3/objects/deals", {
      body: {
        properties,
        // associationTypeId 5: HubSpot-defined "deal to company (primary)".
        ...(companyId
          ? { associations: [{ to: { id: companyId }, types: [{ associationCategory: "HUBSPOT_DEFINED", associationTypeId: 5 }] }] }
          : {}),
      },
      idempotencyKey,
    });
  }

  updateDeal(id: string, properties: Record<string, string>, idempotencyKey: string) {
    return this.request("PATCH", `/crm/v3/objects/deals/${encodeURIComponent(id)}`, { body: { properties }, idempotencyKey });
  }
}

/**
 * The property that holds a record's last-modified time. Companies and deals: hs_lastmodifieddate;
 * contacts: lastmodifieddate (HubSpot's contact object predates the hs_ name).
 */
export const MODIFIED_PROPERTY: Record<CrmObjectType, string> = {
  companies: "hs_lastmodifieddate",
  contacts: "lastmodifieddate",
  deals: "hs_lastmodifieddate",
};

/** A record's last-modified time in epoch ms (HubSpot sends ISO or epoch strings), or null. */
export function crmModified(r: CrmRecord): number | null {
  const v = r.properties.hs_lastmodifieddate ?? r.properties.lastmodifieddate ?? r.updatedAt;
  if (!v) return null;
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  return Number.isFinite(n) ? n : null;
}
