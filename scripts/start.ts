/**
 * `npm start` (`node dist/start.js`, built from this file by `npm run build`): apply pending
 * migrations, seed the demo when the database is empty, then serve on PORT (default 3000) and run
 * the local scheduler (SCHEDULER=off to skip it, e.g. when an external cron calls
 * /api/cron/<job>) — all in this one Node process. Separate processes for the server and the
 * scheduler (and a TypeScript loader for each) cost ~1.2 GB resident at idle; one compiled
 * process stays under the 350 MiB the bench (`npm run bench -- footprint`) checks, with the V8
 * flags package.json's start script passes and the idle collection below (docs/ARCHITECTURE.md,
 * "Production footprint").
 */

import { systemClock } from "../server/clock";
import { createDb, getDb } from "../server/db";
import { applyMigrations } from "../server/db/migrate";
import { startScheduler } from "../server/jobs/scheduler";
import { flushAllCallSamples } from "../server/services/callSamples";
import { settleSlotReleases } from "../server/services/resilience";
import { seedDemo } from "../server/services/seed";
import { ensureLocalSecret } from "./runtime-env";
import { serveNext } from "./web";

process.env.NEXT_TELEMETRY_DISABLED = "1";
process.env.DATABASE_URL ??= "file:./data/autopilot.db";
process.env.PORT ??= "3000";
const port = process.env.PORT;
process.env.HOST ??= "0.0.0.0";
process.env.BETTER_AUTH_URL ??= `http://localhost:${port}`;
process.env.BETTER_AUTH_TRUSTED_ORIGINS ??= `http://127.0.0.1:${port}`;
process.env.BETTER_AUTH_SECRET = ensureLocalSecret("BETTER_AUTH_SECRET");
process.env.CRON_SECRET = ensureLocalSecret("CRON_SECRET");
process.env.DEMO_PASSWORD ??= "autopilot-demo";
const password = process.env.DEMO_PASSWORD;

async function prepare() {
  const url = process.env.DATABASE_URL as string;
  const { applied } = await applyMigrations(url, { log: (l) => console.log(`[migrate] ${l}`) });
  console.log(`[migrate] ${applied.length ? `applied ${applied.length} migration(s)` : "database is up to date"}`);
  const db = createDb(url);
  try {
    const res = await seedDemo(db, { password, clock: systemClock });
    if (res.created) console.log("[seed] demo data created");
    return res;
  } finally {
    await db.$disconnect();
  }
}

const seeded = await prepare();
const server = await serveNext();
// The process-wide client (server/db.ts keeps it on globalThis), which the route handlers share:
// one SQLite connection per process, so a scheduler write never waits on a request's lock in the
// same thread.
// A scheduler job is work too: the quiet-time collection waits for the interval after it.
const quiet = releaseMemoryWhenQuiet(server);
const scheduler =
  process.env.SCHEDULER === "off"
    ? null
    : startScheduler(getDb(), (line) => {
        console.log(line);
        quiet.touch();
      });
if (scheduler) console.log(`[scheduler] ${scheduler.describe()}`);

let stopping = false;
function shutdown() {
  if (stopping) return;
  stopping = true;
  scheduler?.stop();
  server.close();
  // In-flight requests and a tick in hand get a moment; keep-alive sockets do not hold the exit.
  setTimeout(() => process.exit(0), 500).unref();
  // Slot releases and buffered call samples (services/resilience.ts, callSamples.ts) go out before the client closes.
  settleSlotReleases()
    .then(() => flushAllCallSamples())
    .then(() => getDb().$disconnect())
    .catch(() => undefined);
}
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);

const base = process.env.BETTER_AUTH_URL;
console.log("");
console.log(`  Autopilot Control Center → ${base}/sign-in`);
for (const t of seeded.tenants) {
  console.log(`  tenant ${t.slug}: ${t.users.map((u) => `${u.email} (${u.role})`).join(", ")}`);
}
console.log(`  password for every demo user: ${password}`);
console.log("");

/**
 * After a burst of work — start-up above all: migrations, the seed and Next's preparation leave
 * ~100 MiB of garbage — V8 keeps the heap pages it grew into, and an idle server holds them for
 * good. Once the server has answered no request and run no scheduler job (`touch`) for a whole
 * interval since the last collection, a full collection hands them back (tens of milliseconds, only while nobody is waiting). Needs
 * `--expose-gc` (package.json's start script passes it); without it this does nothing.
 */
function releaseMemoryWhenQuiet(http: import("node:http").Server, everyMs = 5000): { touch(): void } {
  const gc = (globalThis as { gc?: () => void }).gc;
  let activity = 1; // start-up counts as activity
  const touch = () => {
    activity++;
  };
  if (!gc) return { touch };
  let dirty = true;
  http.on("request", touch);
  setInterval(() => {
    if (activity > 0) {
      activity = 0;
      dirty = true;
    } else if (dirty) {
      dirty = false;
      gc();
    }
  }, everyMs).unref();
  return { touch };
}
