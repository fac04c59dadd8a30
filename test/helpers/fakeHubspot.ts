import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local HTTP server that behaves like HubSpot's CRM v3 API for the parts the connector uses:
 *  - `Authorization: Bearer <private-app token>` checked on every request (401 otherwise);
 *  - companies / contacts / deals with `hs_lastmodifieddate` (contacts: `lastmodifieddate`),
 *    list with `after` paging (a small page size forces paging), `associations=` on list and read;
 *  - `POST /crm/v3/objects/{type}/search` with GTE/GT/LTE/LT/EQ filters, sorts, paging, and the
 *    result cap past which `after` is refused (HubSpot: 10,000);
 *  - PATCH company, POST deal, PATCH deal — each recorded with its Idempotency-Key;
 *  - a per-token rate limit (N requests per interval) announced with X-HubSpot-RateLimit-* on
 *    every response and enforced with 429 + Retry-After; the search endpoint has its own
 *    per-second limit without those headers, as HubSpot's does;
 *  - `whileBlocked`: requests that arrived while the client had been told to wait (after a 429,
 *    before its Retry-After; or after `Remaining: 0`, before the interval ended). Must stay 0.
 * Time comes from the test's clock, so waiting is the client's injected sleep moving it.
 */

export type ObjType = "companies" | "contacts" | "deals";

interface Rec {
  id: string;
  properties: Record<string, string | null>;
  createdAt: string;
  updatedAt: string;
}

export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  idempotencyKey: string | null;
  authorization: string | null;
  status: number;
  at: number;
}

export interface FakeHubspotOptions {
  token: string;
  now: () => number;
  pageSize?: number;
  /** requests per interval per token (the "ten-secondly" limit) */
  max?: number;
  intervalMs?: number;
  /** search requests per second per token */
  searchPerSecond?: number;
  searchCap?: number;
  daily?: number;
}

const MODIFIED: Record<ObjType, string> = { companies: "hs_lastmodifieddate", contacts: "lastmodifieddate", deals: "hs_lastmodifieddate" };

export class FakeHubspot {
  readonly store: Record<ObjType, Map<string, Rec>> = { companies: new Map(), contacts: new Map(), deals: new Map() };
  /** company id → associated contact / deal ids */
  readonly links = new Map<string, { contacts: Set<string>; deals: Set<string> }>();
  readonly owners: { id: string; email: string }[] = [];
  readonly requests: LoggedRequest[] = [];
  whileBlocked = 0;
  rateLimited = 0;
  /** non-zero: every authenticated request is answered with this status (an outage), still logged */
  failStatus = 0;
  /** non-zero: every request is answered this many ms late (a slow CRM); in flight now and at most */
  delayMs = 0;
  inFlight = 0;
  maxInFlight = 0;
  private seq = 1000;
  private window = { start: 0, count: 0 };
  private searchWindow = { start: 0, count: 0 };
  private blockedUntil = 0;
  private dailyUsed = 0;
  private server: http.Server | null = null;
  url = "";
  readonly o: Required<FakeHubspotOptions>;

  constructor(opts: FakeHubspotOptions) {
    this.o = { pageSize: 3, max: 1000, intervalMs: 10_000, searchPerSecond: 1000, searchCap: 10_000, daily: 500_000, ...opts };
  }

  async start() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", async () => {
        this.inFlight++;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        res.on("finish", () => this.inFlight--);
        if (this.delayMs) await new Promise((ok) => setTimeout(ok, this.delayMs));
        this.handle(req, Buffer.concat(chunks).toString("utf8"), res);
      });
    });
    await new Promise<void>((r) => this.server?.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop() {
    await new Promise<void>((r) => this.server?.close(() => r()));
  }

  // ─────────────── data setup ───────────────

  private stamp(type: ObjType, rec: Rec, at: number) {
    const iso = new Date(at).toISOString();
    rec.properties[MODIFIED[type]] = iso;
    rec.updatedAt = iso;
  }

  /** A record; `id` only when a test needs a known one (HubSpot's are numeric strings). */
  add(type: ObjType, properties: Record<string, string | null>, at = this.o.now(), id = String(++this.seq)): string {
    const rec: Rec = { id, properties: { ...properties, hs_object_id: id }, createdAt: new Date(at).toISOString(), updatedAt: "" };
    this.stamp(type, rec, at);
    this.store[type].set(id, rec);
    if (type === "companies") this.links.set(id, { contacts: new Set(), deals: new Set() });
    return id;
  }

  associate(companyId: string, type: "contacts" | "deals", id: string) {
    this.links.get(companyId)?.[type].add(id);
  }

  /** A change made in HubSpot by someone else: new property values and a new modified time. */
  touch(type: ObjType, id: string, properties: Record<string, string | null>, at = this.o.now()) {
    const rec = this.store[type].get(id);
    if (!rec) throw new Error(`no ${type} ${id}`);
    Object.assign(rec.properties, properties);
    this.stamp(type, rec, at);
  }

  /** Another integration on the same HubSpot account spends part of the shared limit. */
  consume(n: number) {
    this.rollWindow(this.o.now());
    this.window.count += n;
  }

  list(method: string, pathPrefix: string) {
    return this.requests.filter((r) => r.method === method && r.path.startsWith(pathPrefix));
  }

  writes() {
    return this.requests.filter((r) => r.method === "PATCH" || (r.method === "POST" && !r.path.endsWith("/search")));
  }

  // ─────────────── HTTP ───────────────

  private rollWindow(now: number) {
    if (now >= this.window.start + this.o.intervalMs) this.window = { start: now, count: 0 };
  }

  private rateHeaders(): Record<string, string> {
    return {
      "x-hubspot-ratelimit-daily": String(this.o.daily),
      "x-hubspot-ratelimit-daily-remaining": String(Math.max(0, this.o.daily - this.dailyUsed)),
      "x-hubspot-ratelimit-interval-milliseconds": String(this.o.intervalMs),
      "x-hubspot-ratelimit-max": String(this.o.max),
      "x-hubspot-ratelimit-remaining": String(Math.max(0, this.o.max - this.window.count)),
    };
  }

  private handle(req: http.IncomingMessage, raw: string, res: http.ServerResponse) {
    const now = this.o.now();
    const url = new URL(req.url ?? "/", "http://x");
    const log: LoggedRequest = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body: null,
      idempotencyKey: (req.headers["idempotency-key"] as string | undefined) ?? null,
      authorization: req.headers.authorization ?? null,
      status: 0,
      at: now,
    };
    this.requests.push(log);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      log.status = status;
      res.writeHead(status, { "content-type": "application/json;charset=utf-8", ...headers });
      res.end(JSON.stringify(body));
    };

    if (req.headers.authorization !== `Bearer ${this.o.token}`) {
      return send(401, {
        status: "error",
        message: "Authentication credentials not found. This API supports OAuth 2.0 authentication.",
        category: "INVALID_AUTHENTICATION",
      });
    }
    if (now < this.blockedUntil) this.whileBlocked++;
    if (this.failStatus) return send(this.failStatus, { status: "error", message: "Service unavailable", category: "OUTAGE" });

    const isSearch = log.method === "POST" && url.pathname.endsWith("/search");
    if (isSearch) {
      if (now >= this.searchWindow.start + 1000) this.searchWindow = { start: now, count: 0 };
      this.searchWindow.count++;
      if (this.searchWindow.count > this.o.searchPerSecond) {
        this.rateLimited++;
        const until = this.searchWindow.start + 1000;
        this.blockedUntil = Math.max(this.blockedUntil, until);
        return send(
          429,
          { status: "error", message: "You have reached your secondly limit.", errorType: "RATE_LIMIT", policyName: "SECONDLY" },
          { "retry-after": String(Math.max(1, Math.ceil((until - now) / 1000))) },
        );
      }
    } else {
      this.rollWindow(now);
      this.window.count++;
      this.dailyUsed++;
      if (this.window.count > this.o.max) {
        this.rateLimited++;
        const until = this.window.start + this.o.intervalMs;
        this.blockedUntil = Math.max(this.blockedUntil, until);
        return send(
          429,
          {
            status: "error",
            message: "You have reached your ten_secondly_rolling limit.",
            errorType: "RATE_LIMIT",
            policyName: "TEN_SECONDLY_ROLLING",
          },
          { ...this.rateHeaders(), "retry-after": String(Math.max(1, Math.ceil((until - now) / 1000))) },
        );
      }
      // The client was told "none left": anything before the interval ends is a violation.
      if (this.window.count >= this.o.max) this.blockedUntil = Math.max(this.blockedUntil, this.window.start + this.o.intervalMs);
    }
    const headers = isSearch ? {} : this.rateHeaders();

    let body: Record<string, unknown> = {};
    if (raw) {
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return send(400, { status: "error", message: "Invalid input JSON", category: "VALIDATION_ERROR" }, headers);
      }
    }
    log.body = raw ? body : null;

    const parts = url.pathname.split("/").filter(Boolean); // crm v3 objects <type> [id|search]
    if (url.pathname === "/crm/v3/owners") {
      const after = Number(url.searchParams.get("after") ?? 0);
      const page = this.owners.slice(after, after + this.o.pageSize);
      const next = after + this.o.pageSize < this.owners.length ? String(after + this.o.pageSize) : null;
      return send(200, { results: page, ...(next ? { paging: { next: { after: next } } } : {}) }, headers);
    }
    if (parts[0] !== "crm" || parts[1] !== "v3" || parts[2] !== "objects")
      return send(404, { status: "error", message: "Not found" }, headers);
    const type = parts[3] as ObjType;
    if (!this.store[type]) return send(404, { status: "error", message: `Unknown object type ${type}` }, headers);
    const props = (url.searchParams.get("properties") ?? "").split(",").filter(Boolean);
    const assoc = (url.searchParams.get("associations") ?? "").split(",").filter(Boolean);

    if (log.method === "GET" && parts.length === 4) {
      const limit = Math.min(Number(url.searchParams.get("limit") ?? 10), 100, this.o.pageSize);
      const all = [...this.store[type].values()].sort((a, b) => Number(a.id) - Number(b.id));
      const after = Number(url.searchParams.get("after") ?? 0);
      const page = all.slice(after, after + limit);
      const next = after + limit < all.length ? String(after + limit) : null;
      return send(
        200,
        { results: page.map((r) => this.view(type, r, props, assoc)), ...(next ? { paging: { next: { after: next } } } : {}) },
        headers,
      );
    }
    if (log.method === "GET" && parts.length === 5) {
      const rec = this.store[type].get(parts[4] as string);
      if (!rec) return send(404, { status: "error", message: "Object not found", category: "OBJECT_NOT_FOUND" }, headers);
      return send(200, this.view(type, rec, props, assoc), headers);
    }
    if (isSearch) return this.search(type, body, send, headers);
    if (log.method === "PATCH" && parts.length === 5) {
      const rec = this.store[type].get(parts[4] as string);
      if (!rec) return send(404, { status: "error", message: "Object not found", category: "OBJECT_NOT_FOUND" }, headers);
      this.touch(type, rec.id, (body.properties ?? {}) as Record<string, string>, now);
      return send(200, this.view(type, rec, Object.keys(rec.properties), []), headers);
    }
    if (log.method === "POST" && parts.length === 4 && type === "deals") {
      const id = this.add("deals", (body.properties ?? {}) as Record<string, string>, now);
      for (const a of (body.associations ?? []) as { to: { id: string } }[]) this.associate(a.to.id, "deals", id);
      return send(201, this.view("deals", this.store.deals.get(id) as Rec, [], []), headers);
    }
    return send(405, { status: "error", message: "Method not allowed" }, headers);
  }

  private companyOf(type: "contacts" | "deals", id: string) {
    return [...this.links.entries()].filter(([, l]) => l[type].has(id)).map(([c]) => c);
  }

  private view(type: ObjType, r: Rec, props: string[], assoc: string[]) {
    const properties: Record<string, string | null> = { hs_object_id: r.id, [MODIFIED[type]]: r.properties[MODIFIED[type]] ?? null };
    for (const p of props) properties[p] = r.properties[p] ?? null;
    const associations: Record<string, { results: { id: string; type: string }[] }> = {};
    for (const a of assoc) {
      let ids: string[] = [];
      if (type === "companies" && (a === "contacts" || a === "deals")) ids = [...(this.links.get(r.id)?.[a] ?? [])];
      if (type !== "companies" && a === "companies") ids = this.companyOf(type, r.id);
      if (ids.length) associations[a] = { results: ids.map((id) => ({ id, type: `${type.slice(0, -1)}_to_${a.slice(0, -1)}` })) };
    }
    return {
      id: r.id,
      properties,
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
      archived: false,
      ...(Object.keys(associations).length ? { associations } : {}),
    };
  }

  private search(
    type: ObjType,
    body: Record<string, unknown>,
    send: (s: number, b: unknown, h?: Record<string, string>) => void,
    headers: Record<string, string>,
  ) {
    const groups = (body.filterGroups ?? []) as { filters: { propertyName: string; operator: string; value: string }[] }[];
    const val = (v: string | null | undefined) => {
      if (v === null || v === undefined) return null;
      const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
      return Number.isFinite(n) ? n : v;
    };
    const match = (r: Rec) =>
      groups.length === 0 ||
      groups.some((g) =>
        g.filters.every((f) => {
          const a = val(r.properties[f.propertyName]);
          const b = val(f.value);
          if (a === null || b === null) return false;
          switch (f.operator) {
            case "GTE":
              return a >= b;
            case "GT":
              return a > b;
            case "LTE":
              return a <= b;
            case "LT":
              return a < b;
            case "EQ":
              return a === b;
            default:
              return false;
          }
        }),
      );
    let all = [...this.store[type].values()].filter(match);
    const sort = ((body.sorts ?? []) as { propertyName: string; direction: string }[])[0];
    all.sort((x, y) => Number(x.id) - Number(y.id));
    if (sort) {
      const dir = sort.direction === "DESCENDING" ? -1 : 1;
      all = all.sort((x, y) => {
        const a = val(x.properties[sort.propertyName]) ?? 0;
        const b = val(y.properties[sort.propertyName]) ?? 0;
        return a < b ? -dir : a > b ? dir : 0;
      });
    }
    const after = Number(body.after ?? 0);
    if (after >= this.o.searchCap)
      return send(400, { status: "error", message: `after must be less than ${this.o.searchCap}`, category: "VALIDATION_ERROR" }, headers);
    const limit = Math.min(Number(body.limit ?? 10), 100, this.o.pageSize);
    const page = all.slice(after, after + limit);
    const next = after + limit < all.length ? String(after + limit) : null;
    const props = (body.properties ?? []) as string[];
    return send(
      200,
      {
        total: all.length,
        results: page.map((r) => this.view(type, r, props, [])),
        ...(next ? { paging: { next: { after: next } } } : {}),
      },
      headers,
    );
  }
}
