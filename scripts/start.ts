/**
 * `npm start`: apply pending migrations, seed the demo when the database is empty, then serve on
 * PORT (default 3000) and run the local scheduler beside it (SCHEDULER=off to skip it, e.g. when
 * an external cron calls /api/cron/<job>).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { systemClock } from "../server/clock";
import { createDb } from "../server/db";
import { applyMigrations } from "../server/db/migrate";
import { seedDemo } from "../server/services/seed";
import { ensureLocalSecret } from "./runtime-env";

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

function run(name: string, cmd: string, args: string[]): ChildProcess {
  const child = spawn(cmd, args, { stdio: "inherit", env: process.env });
  child.on("exit", (code, signal) => {
    console.log(`[${name}] exited (${signal ?? code})`);
    shutdown(code ?? 1);
  });
  return child;
}

const children: ChildProcess[] = [];
let stopping = false;
function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  setTimeout(() => process.exit(code), 500).unref();
}
process.on("SIGINT", () => shutdown(0));
process.on("SIGTERM", () => shutdown(0));

const seeded = await prepare();
// scripts/web.ts serves the Next build (like `next start`) and stamps the real client address.
children.push(run("web", "./node_modules/.bin/tsx", ["scripts/web.ts"]));
if (process.env.SCHEDULER !== "off") children.push(run("scheduler", "./node_modules/.bin/tsx", ["scripts/scheduler.ts"]));

const base = process.env.BETTER_AUTH_URL;
console.log("");
console.log(`  Autopilot Control Center → ${base}/sign-in`);
for (const t of seeded.tenants) {
  console.log(`  tenant ${t.slug}: ${t.users.map((u) => `${u.email} (${u.role})`).join(", ")}`);
}
console.log(`  password for every demo user: ${password}`);
console.log("");
