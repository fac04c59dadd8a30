/**
 * One scheduler `decisions` tick in its own process — the tick that drains the durable queue, so
 * it runs every queued audit export — measuring the process's memory while it works:
 * `tsx test/helpers/export-child.ts` with DATABASE_URL and EXPORT_DIR. Used by
 * test/integration/audit-export.test.ts and bench/export.ts. Prints one JSON line:
 * `{ baselineRss, peakRss, ms, queue }` (bytes; baseline after start-up and a first query). The
 * peak is sampled every 5 ms during the tick, not the process's maxRSS: that includes tsx
 * compiling the generated Prisma client at start-up, which is not the export's memory.
 */
import { systemClock } from "@/server/clock";
import { createDb } from "@/server/db";
import { env } from "@/server/env";
import { JOBS } from "@/server/jobs/registry";
import { rulesSynthesizer } from "@/server/services/llmSynthesizer";

async function main() {
  const db = createDb(env().DATABASE_URL);
  await db.ledgerHead.count(); // connect and warm the client before the baseline
  global.gc?.();
  const baselineRss = process.memoryUsage.rss();
  let peakRss = baselineRss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, 5);
  const started = performance.now();
  const tick = await JOBS.decisions.run({
    db,
    clock: systemClock,
    synthesizer: rulesSynthesizer,
    connectors: { smtp: null },
    workerId: "export-child",
    exports: { dir: env().EXPORT_DIR, databaseUrl: env().DATABASE_URL },
  });
  const ms = performance.now() - started;
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  await db.$disconnect();
  process.stdout.write(`${JSON.stringify({ baselineRss, peakRss, ms, queue: tick.queue })}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
