/**
 * `npm run scheduler`: the self-hosted twin of the cron routes, alone in its process (`npm start`
 * runs the same scheduler inside the web server). See server/jobs/scheduler.ts.
 */
import { getDb } from "../server/db";
import { startScheduler } from "../server/jobs/scheduler";
import { flushCallSamples } from "../server/services/callSamples";
import { settleSlotReleases } from "../server/services/resilience";

const db = getDb();
const scheduler = startScheduler(db);
console.log(`[scheduler] ${scheduler.describe()}`);

function stop() {
  scheduler.stop();
  // The last ticks' slot releases and call samples (both off the call path) go out before the client closes.
  settleSlotReleases()
    .then(() => flushCallSamples(db))
    .then(() => db.$disconnect())
    .finally(() => process.exit(0));
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
