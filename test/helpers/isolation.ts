import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Db, ObservedStatement } from "@/server/db";

/**
 * The tenant-isolation harness (issue 12 item 5, SPEC §4.7): while tenant A's story runs, it
 * records every SQL statement the Prisma client runs (text, bound values and returned rows, through
 * the `observe` hook of createDb), every ledger row written, every request that reached the test's
 * own HTTP servers, every console line and every answer A was given — and reports each place where
 * one of tenant B's identifiers shows up.
 */

/** One identifier of the tenant that must stay untouched, with what it is (for the report). */
export interface Marker {
  label: string;
  value: string;
}

export type Channel = "sql-args" | "sql-rows" | "ledger" | "http" | "log" | "output";

export interface Leak {
  channel: Channel;
  marker: Marker;
  /** the statement, request line, ledger entry or output that carried it */
  where: string;
}

/**
 * A statement that legitimately spans tenants. Only its RESULT rows are exempt, and only for the
 * reason given; its bound values are still checked (no statement run for A may name B).
 */
export interface Allowance {
  name: string;
  why: string;
  matches: (sql: string) => boolean;
}

export interface RecordedRequest {
  /** the test server it reached (its base URL) */
  to: string;
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const text = (v: unknown): string => {
  if (typeof v === "string") return v;
  if (v instanceof Uint8Array) return Buffer.from(v).toString("utf8");
  if (v instanceof Date) return v.toISOString();
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x)) ?? String(v);
  } catch {
    return String(v);
  }
};

/**
 * What identifies a tenant anywhere: its id, its accounts, contacts (ids and emails), users (ids
 * and emails) and API key prefixes. Values the other tenant also has (the factory gives both
 * tenants `c1@example.test`) cannot tell them apart and are left out — pass that tenant as `besides`.
 */
export async function tenantMarkers(db: Db, tenantId: string, besides?: string): Promise<Marker[]> {
  const of = async (id: string) => {
    const [accounts, contacts, members, keys] = await Promise.all([
      db.account.findMany({ where: { tenantId: id }, select: { id: true } }),
      db.contact.findMany({ where: { tenantId: id }, select: { id: true, email: true } }),
      db.membership.findMany({ where: { tenantId: id }, select: { user: { select: { id: true, email: true } } } }),
      db.apiKey.findMany({ where: { tenantId: id }, select: { prefix: true } }),
    ]);
    return [
      { label: "tenant id", value: id },
      ...accounts.map((a) => ({ label: "account id", value: a.id })),
      ...contacts.map((c) => ({ label: "contact id", value: c.id })),
      ...contacts.flatMap((c) => (c.email ? [{ label: "contact email", value: c.email }] : [])),
      ...members.map((m) => ({ label: "user id", value: m.user.id })),
      ...members.map((m) => ({ label: "user email", value: m.user.email })),
      ...keys.map((k) => ({ label: "API key prefix", value: k.prefix })),
    ];
  };
  const mine = await of(tenantId);
  const theirs = besides ? new Set((await of(besides)).map((m) => m.value)) : new Set<string>();
  return mine.filter((m) => !theirs.has(m.value));
}

export class IsolationRecorder {
  readonly statements: ObservedStatement[] = [];
  readonly logs: string[] = [];
  readonly requests: RecordedRequest[] = [];
  /** every request the test servers received, recording or not (a test reads its messages here) */
  readonly received: RecordedRequest[] = [];
  readonly outputs: { label: string; body: string }[] = [];
  private recording = false;
  private restoreConsole: (() => void) | null = null;
  private readonly servers: http.Server[] = [];

  /** Pass to createDb(url, { observe }). Copies what it keeps: Prisma may reuse its arrays. */
  readonly observe = (s: ObservedStatement) => {
    if (!this.recording) return;
    this.statements.push({ sql: s.sql, args: [...s.args], columns: s.columns && [...s.columns], rows: s.rows?.map((r) => [...r]) });
  };

  start() {
    if (this.recording) return;
    this.recording = true;
    const methods = ["log", "info", "warn", "error", "debug"] as const;
    const saved = methods.map((m) => console[m]);
    for (const m of methods) {
      const original = console[m];
      console[m] = (...args: unknown[]) => {
        this.logs.push(`${m}: ${args.map(text).join(" ")}`);
        original.apply(console, args);
      };
    }
    this.restoreConsole = () => {
      methods.forEach((m, i) => {
        console[m] = saved[i] as (typeof console)[typeof m];
      });
    };
  }

  /** Forget what was recorded (between cases of one file). */
  clear() {
    for (const list of [this.statements, this.logs, this.requests, this.outputs]) list.length = 0;
  }

  stop() {
    this.recording = false;
    this.restoreConsole?.();
    this.restoreConsole = null;
  }

  /** An answer tenant A was given (a REST body, a tRPC result, an export file). */
  output(label: string, body: unknown) {
    if (this.recording) this.outputs.push({ label, body: text(body) });
  }

  /** A real HTTP server on 127.0.0.1 that records every request it receives and answers 200. */
  async server(): Promise<string> {
    let to = "";
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const r = { to, method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
        this.received.push(r);
        if (this.recording) this.requests.push(r);
        res.writeHead(200, { "content-type": "application/json" });
        res.end("{}");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.servers.push(server);
    to = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return to;
  }

  async close() {
    this.stop();
    await Promise.all(this.servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }

  /**
   * Every place a marker appears: bound values of every statement, rows returned (unless an
   * allowance covers the statement), the given ledger rows, requests received, log lines, outputs.
   */
  leaks(
    markers: Marker[],
    opts: { allowances?: Allowance[]; ledger?: { tenantId: string; seq: number; type: string; payload: string }[] } = {},
  ): Leak[] {
    const found: Leak[] = [];
    const scan = (channel: Channel, haystack: string, where: string) => {
      for (const marker of markers) if (haystack.includes(marker.value)) found.push({ channel, marker, where });
    };
    for (const s of this.statements) {
      scan("sql-args", s.args.map(text).join("\u0000"), `${s.sql} ${text(s.args)}`);
      if (s.rows?.length && !opts.allowances?.some((a) => a.matches(s.sql)))
        scan("sql-rows", s.rows.map((r) => r.map(text).join("\u0000")).join("\n"), `${s.sql} ${text(s.args)} → ${s.rows.length} row(s)`);
    }
    for (const e of opts.ledger ?? [])
      scan("ledger", `${e.tenantId}\u0000${e.payload}`, `ledger #${e.seq} ${e.type} of tenant ${e.tenantId}`);
    for (const r of this.requests) scan("http", `${r.to}${r.url}\u0000${text(r.headers)}\u0000${r.body}`, `${r.method} ${r.url}`);
    for (const line of this.logs) scan("log", line, line.slice(0, 200));
    for (const o of this.outputs) scan("output", o.body, o.label);
    return found;
  }
}

/** One line per leak, naming the marker and the statement / request / line that carried it. */
export function describeLeaks(leaks: Leak[]): string {
  return leaks.map((l) => `[${l.channel}] tenant B's ${l.marker.label} ${l.marker.value} in: ${l.where.slice(0, 400)}`).join("\n");
}

/** The ledger rows written since `heads` (tenant id → last seq before the story), for every tenant. */
export async function ledgerWrittenSince(db: Db, heads: Map<string, number>) {
  const now = await db.ledgerHead.findMany();
  const rows: { tenantId: string; seq: number; type: string; payload: string }[] = [];
  for (const h of now) {
    const before = heads.get(h.tenantId) ?? 0;
    if (h.seq > before)
      rows.push(
        ...(await db.ledgerEntry.findMany({
          where: { tenantId: h.tenantId, seq: { gt: before } },
          select: { tenantId: true, seq: true, type: true, payload: true },
        })),
      );
  }
  return rows;
}

export async function ledgerHeads(db: Db): Promise<Map<string, number>> {
  return new Map((await db.ledgerHead.findMany()).map((h) => [h.tenantId, h.seq]));
}
