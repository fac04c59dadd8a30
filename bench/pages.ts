import zlib from "node:zlib";
import { type Browser, chromium, type Page, type Route } from "@playwright/test";
import { NAV } from "../components/nav";
import { CHROMIUM_ARGS, CHROMIUM_PATH, VIEWPORT } from "../e2e/chromium";
import { systemClock } from "../server/clock";
import type { Db } from "../server/db";
import { findTenantBySlug } from "../server/repos/tenants";
import { writeFixtures } from "../server/services/fixtures";
import { seedDemo } from "../server/services/seed";
import { bareServer, PASSWORD, startApp, stop, waitFor } from "./http";
import { atMost, type BenchRow } from "./ledger";

/**
 * Issue 13's page rows: every page of the shell's NAV (components/nav.ts), signed in as the demo
 * admin (who can open all of them), in Debian's Chromium against the built app (`npm start`) on
 * the bench's SQLite database with the demo tenant:
 *  - LCP (the last `largest-contentful-paint` entry once the page is quiet), the median of `loads`
 *    loads after one warm-up load; target ≤ 1000 ms. Baseline: the LCP of a one-heading HTML page
 *    from a bare Node server, in the same browser and run.
 *  - the route's first-load JS, as Next defines it: the encoded (as sent) bodies of the scripts the
 *    served document names (script tags, and the client chunks its RSC payload lists), in KB;
 *    target ≤ 250 KB gzip. Scripts the page imports after it loaded (`next/dynamic`, ssr: false:
 *    Recharts, ~115 KB) are reported beside it, not counted. Baseline: /sign-in, the app's
 *    smallest route (framework and runtime only).
 *    The app's server compresses (Next's `compress`, on by default); if it ever sends a script
 *    uncompressed, the row counts that script's gzip size (zlib level 6) instead and says so.
 * Then `rows` ledger rows (the bar: 1,000,000) through the fixtures service, and the LCP of the
 * ledger explorer and of an account's page (its ledger timeline) on top of them: long lists must
 * paginate, so these stay under the same 1000 ms.
 * SQLite only: the browser's side does not depend on the database, and the server's queries at
 * 1,000,000 rows on both databases are the http suite's rows. Needs `npm run build` first.
 */

const LCP_BAR_MS = 1000;
const JS_BAR_KB = 250;
const KB = 1000;

/** Runs in the page before its own scripts: keeps the latest LCP candidate on `window`. */
const LCP_OBSERVER = `
  window.__lcp = null;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const el = e.element;
      window.__lcp = { ms: e.startTime, size: e.size, element: el ? el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") : e.url || "?" };
    }
  }).observe({ type: "largest-contentful-paint", buffered: true });
`;

interface Lcp {
  ms: number;
  size: number;
  element: string;
}

async function quiet(page: Page) {
  await page.waitForLoadState("networkidle");
  // One more frame pair, so a paint after the last response has been reported.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

/** One load of `url`: its LCP, after failing loudly on an error status or a sign-in redirect. */
async function loadLcp(page: Page, url: string, retry = true): Promise<Lcp> {
  const res = await page.goto(url, { waitUntil: "load" });
  if (!res || res.status() >= 400) throw new Error(`${url}: HTTP ${res?.status()}`);
  if (new URL(page.url()).pathname === "/sign-in" && !url.endsWith("/sign-in")) throw new Error(`${url}: redirected to sign-in`);
  await quiet(page);
  const lcp = (await page.evaluate("window.__lcp")) as Lcp | null;
  if (lcp) return lcp;
  // On a loaded machine Chromium now and then reports no LCP entry for a load; one more load
  // tells a fluke from a page that never paints content.
  if (retry) return loadLcp(page, url, false);
  throw new Error(`${url}: no largest-contentful-paint entry, twice`);
}

/** The median of `n` loads after one warm-up load, with the range. */
async function measureLcp(page: Page, url: string, n: number) {
  await loadLcp(page, url);
  const all: Lcp[] = [];
  for (let i = 0; i < n; i++) all.push(await loadLcp(page, url));
  all.sort((a, b) => a.ms - b.ms);
  const median = all[Math.floor((all.length - 1) / 2)] as Lcp;
  return { median, min: (all[0] as Lcp).ms, max: (all[all.length - 1] as Lcp).ms };
}

interface RouteJs {
  /** first-load JS: the scripts the served document names (its script tags and the RSC payload's client chunks) */
  kb: number;
  /** scripts loaded after that (`next/dynamic` with ssr: false — the charts), not counted in `kb` */
  lazyKb: number;
  lazyScripts: number;
  scripts: number;
  /** scripts the server sent without a content-coding, counted at their zlib gzip size */
  uncompressed: number;
}

/**
 * The JS a fresh load of `url` brings in: every script resource the document loads until it is
 * quiet, at its encoded (transferred) size; the HTTP cache does not hide it, since
 * `encodedBodySize` is the body's size as sent even when the browser reused it.
 */
async function routeJs(page: Page, url: string): Promise<RouteJs> {
  // Links prefetch their routes once visible (the NAV lists every page), and a prefetched payload
  // loads its route's client chunks: those are the next page's JS, not this one's.
  const prefetch = (r: Route) => (r.request().headers()["next-router-prefetch"] ? r.abort() : r.fallback());
  await page.route("**/*", prefetch);
  let entries: { name: string; encoded: number }[];
  try {
    await page.goto(url, { waitUntil: "load" });
    await quiet(page);
    entries = await page.evaluate(() =>
      performance
        .getEntriesByType("resource")
        .map((e) => e as PerformanceResourceTiming)
        .filter((e) => e.initiatorType === "script" || /\.m?js$/.test(new URL(e.name).pathname))
        .map((e) => ({ name: e.name, encoded: e.encodedBodySize })),
    );
  } finally {
    await page.unroute("**/*", prefetch);
  }
  const origin = new URL(page.url()).origin;
  // What the server sent for the document (same session): a script it names is first-load JS, as
  // Next counts it; one it does not name was imported later by the page's own code. Chunk file
  // names carry content hashes, so a name found in the document is that script.
  const html = await (await page.request.get(url)).text();
  let bytes = 0;
  let lazyBytes = 0;
  let lazyScripts = 0;
  let uncompressed = 0;
  for (const e of entries) {
    const res = await page.request.get(e.name, { headers: { "accept-encoding": "gzip" } });
    const encoding = res.headers()["content-encoding"];
    let size = e.encoded;
    if (!(new URL(e.name).origin === origin && e.encoded > 0 && encoding)) {
      // Sent as is (or the browser reported no size): count what gzip would have sent.
      uncompressed++;
      size = zlib.gzipSync(await res.body(), { level: 6 }).length;
    }
    const file = new URL(e.name).pathname.split("/").at(-1) ?? "";
    if (file && html.includes(file)) bytes += size;
    else {
      lazyBytes += size;
      lazyScripts++;
    }
  }
  return { kb: bytes / KB, lazyKb: lazyBytes / KB, lazyScripts, scripts: entries.length, uncompressed };
}

export async function pagesBench(db: Db, label: string, url: string, rows: number, loads: number): Promise<BenchRow[]> {
  await seedDemo(db, { password: PASSWORD, clock: systemClock });
  const tenant = await findTenantBySlug(db, "demo");
  if (!tenant) throw new Error("demo tenant missing after the seed");

  const bare = await bareServer(
    "<!doctype html><html><head><title>bare</title></head><body><h1>Accounts</h1><p>A page with nothing to load.</p></body></html>",
    "text/html; charset=utf-8",
  );
  const { base, child: app } = await startApp(url);
  let browser: Browser | null = null;
  try {
    await waitFor(`${base}/api/health`, app);
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ baseURL: base, viewport: VIEWPORT });
    await context.addInitScript(LCP_OBSERVER);
    const page = await context.newPage();
    const out: BenchRow[] = [];
    const row = (c: string, display: string, value: number, ratio: number | null, note: string, target?: BenchRow["target"]) =>
      out.push({ suite: "pages", db: label, case: c, opsPerSec: value, display, ratio, note, ...(target ? { target } : {}) });
    const lcpNote = (m: Awaited<ReturnType<typeof measureLcp>>) =>
      `median of ${loads} loads after a warm-up, range ${m.min.toFixed(0)}–${m.max.toFixed(0)} ms; LCP element ${m.median.element}`;
    const jsNote = (j: RouteJs) =>
      `first-load JS: ${j.scripts - j.lazyScripts} of ${j.scripts} scripts${j.uncompressed ? `; ${j.uncompressed} sent uncompressed, counted at their zlib gzip size` : ", as sent (gzip)"}${
        j.lazyScripts ? `; then ${j.lazyKb.toFixed(0)} KB in ${j.lazyScripts} loaded after the page (charts), not counted` : ""
      }`;

    // ── baselines ──
    const bareLcp = await measureLcp(page, bare.base, loads);
    row(
      "LCP: one-heading HTML page from a bare Node server (baseline)",
      `${bareLcp.median.ms.toFixed(0)} ms`,
      bareLcp.median.ms,
      1,
      lcpNote(bareLcp),
    );
    const signInJs = await routeJs(page, "/sign-in");
    row(
      "route JS (first load): /sign-in, the app's smallest route (baseline)",
      `${signInJs.kb.toFixed(0)} KB`,
      signInJs.kb,
      1,
      jsNote(signInJs),
    );

    // Signed in as the demo admin, as e2e/helpers.ts signs in.
    await page.goto("/sign-in");
    await page.getByLabel("Email").fill("admin@demo.test");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/accounts$/);

    // ── every NAV page, demo data ──
    for (const { href } of NAV) {
      const js = await routeJs(page, href);
      const lcp = await measureLcp(page, href, loads);
      row(
        `LCP ${href}`,
        `${lcp.median.ms.toFixed(0)} ms`,
        lcp.median.ms,
        lcp.median.ms / bareLcp.median.ms,
        `ratio to the bare page; ${lcpNote(lcp)}`,
        atMost(lcp.median.ms, LCP_BAR_MS, " ms"),
      );
      row(
        `route JS (first load) ${href}`,
        `${js.kb.toFixed(0)} KB`,
        js.kb,
        js.kb / signInJs.kb,
        `ratio to /sign-in; ${jsNote(js)}`,
        atMost(js.kb, JS_BAR_KB, " KB gzip"),
      );
    }

    // ── long lists at `rows` ledger rows ──
    const t0 = performance.now();
    await writeFixtures(db, systemClock, { tenantSlug: "demo", accounts: 50, ledgerRows: rows });
    console.log(`pages/${label}: ${rows} ledger rows written in ${Math.round((performance.now() - t0) / 1000)} s`);
    // The newest entry's account: a fixtures account, with its share (~1/50) of those rows.
    const newest = await db.ledgerEntry.findFirst({
      where: { tenantId: tenant.id, accountId: { not: null } },
      orderBy: { seq: "desc" },
      select: { accountId: true },
    });
    const accountId = newest?.accountId;
    if (!accountId) throw new Error("no ledger entry with an account after the fixtures");
    const perAccount = await db.ledgerEntry.count({ where: { tenantId: tenant.id, accountId } });
    const scale = rows.toLocaleString("en-US");
    for (const [name, href] of [
      [`LCP /ledger, ${scale} ledger rows`, "/ledger"],
      [
        `LCP /accounts/:id (its ledger timeline: ${perAccount.toLocaleString("en-US")} rows), ${scale} ledger rows`,
        `/accounts/${accountId}`,
      ],
    ] as const) {
      const lcp = await measureLcp(page, href, loads);
      row(
        name,
        `${lcp.median.ms.toFixed(0)} ms`,
        lcp.median.ms,
        lcp.median.ms / bareLcp.median.ms,
        `ratio to the bare page; ${lcpNote(lcp)}`,
        atMost(lcp.median.ms, LCP_BAR_MS, " ms"),
      );
    }
    return out;
  } finally {
    await browser?.close();
    await stop(app);
    await stop(bare.child);
  }
}
