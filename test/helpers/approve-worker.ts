/**
 * A process that approves one intent the way the inbox does — `approveIntent`, the service REST
 * (`POST /api/v1/intents/:id/approve`) and tRPC call — then, as a queue worker, runs the
 * EXECUTE_APPROVED job that queued, and so its execution through the real connector. test/integration/execution-sweep.test.ts SIGKILLs it while the connector call is in
 * flight. `tsx test/helpers/approve-worker.ts` with DATABASE_URL, VIEWER (JSON), INTENT_ID and,
 * for SEND_EMAIL, SMTP_PORT.
 */
import { systemClock } from "@/server/clock";
import { createDb } from "@/server/db";
import { queueHandlers } from "@/server/jobs/registry";
import type { Viewer } from "@/server/repos/scope";
import { runWorkerTick } from "@/server/services/jobQueue";
import { rulesSynthesizer } from "@/server/services/llmSynthesizer";
import { approveIntent } from "@/server/services/reviews";

// Detached from the test runner's process group: never outlive a test run that died abruptly.
setTimeout(() => process.exit(3), Number(process.env.MAX_LIFETIME_MS ?? 60_000)).unref();

const db = createDb(process.env.DATABASE_URL as string);
const viewer = JSON.parse(process.env.VIEWER as string) as Viewer;
const smtpPort = process.env.SMTP_PORT ? Number(process.env.SMTP_PORT) : null;
const connectors = {
  smtp: smtpPort ? { host: "127.0.0.1", port: smtpPort, secure: false, ignoreTLS: true, from: "Autopilot <autopilot@test.example>" } : null,
};

async function approveAndExecute() {
  const deps = { db, clock: systemClock, connectors };
  const v = await approveIntent(deps, viewer, process.env.INTENT_ID as string, {});
  await runWorkerTick(db, queueHandlers({ ...deps, synthesizer: rulesSynthesizer, workerId: "approve-worker" }), {
    owner: "approve-worker",
    leaseSeconds: 120,
    maxJobs: 10,
    clock: systemClock,
  });
  return v;
}

approveAndExecute().then(
  (v) => {
    // Only reached if the test failed to kill us during the call.
    process.stdout.write(`DONE ${v.status}\n`);
    process.exit(0);
  },
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
