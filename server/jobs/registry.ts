import type { Clock } from "../clock";
import type { Db } from "../db";
import { runApprovalsExpiryTick } from "../services/approvals/expiry";
import { APPROVAL_WEBHOOK, handleApprovalWebhookJob } from "../services/approvals/webhook";
import { AUDIT_EXPORT, type ExportSettings, handleExportJob } from "../services/audit/export";
import { runAuditStreamTick } from "../services/auditStream";
import { executeRun, fireDueTriggers, RUN_DECISION } from "../services/decisions";
import { runDemoSourceTick } from "../services/demoSource";
import { runDigestTick } from "../services/digest/send";
import { type ConnectorDeps, EXECUTE_APPROVED, handleExecuteApprovedJob } from "../services/executor";
import { runHeatTick } from "../services/heat";
import { handleImportJob, IMPORT_ROWS } from "../services/imports";
import { JobError, type JobHandlers, runWorkerTick } from "../services/jobQueue";
import { CALIBRATE, handleCalibrationJob, requestDueCalibrations } from "../services/learning/calibrate";
import { runShadowTick } from "../services/learning/shadow";
import type { Synthesizer } from "../services/llmSynthesizer";
import { runNormalizeTick } from "../services/normalize";
import { runPerceptionTick } from "../services/perception";
import { handleReplayJob, REPLAY_EXECUTION } from "../services/replay";
import { runRitualTick } from "../services/rituals";
import { sweepExecutions } from "../services/sweeper";
import { runCrmSyncTick } from "./crmSync";
import { runLedgerVerifyTick } from "./ledgerVerify";

/** What every scheduled job gets; built at the edge (cron route, CLI, scheduler) from the env. */
export interface JobDeps {
  db: Db;
  clock: Clock;
  synthesizer: Synthesizer;
  connectors: ConnectorDeps;
  /** identifies this process as a lease owner in the job queue */
  workerId: string;
  /** audit exports: their directory and the database their scan reads (EXPORT_DIR, DATABASE_URL) */
  exports?: ExportSettings;
}

export interface JobDefinition {
  /** cron expression (UTC) for vercel.json (minute granularity) and, by default, the local scheduler */
  schedule: string;
  /** a finer cadence (6-field cron with seconds) for the local scheduler, where it costs nothing */
  localSchedule?: string;
  description: string;
  run: (deps: JobDeps) => Promise<{ ok: boolean }>;
}

/** Durable-queue handlers. Each is idempotent: a job may run again after a crash. */
export function queueHandlers(deps: JobDeps): JobHandlers {
  return {
    [RUN_DECISION]: async (payload, ctx) => {
      const { runId } = payload as { runId: string };
      return executeRun(
        { db: deps.db, clock: deps.clock, synthesizer: deps.synthesizer, connectors: deps.connectors },
        ctx.job.tenantId,
        runId,
      );
    },
    [IMPORT_ROWS]: (payload, ctx) => handleImportJob(payload, ctx),
    [CALIBRATE]: (payload, ctx) => handleCalibrationJob(payload, ctx),
    [AUDIT_EXPORT]: (payload, ctx) => {
      // Retryable: a runner built without export settings leaves the job to one that has them.
      if (!deps.exports) throw new JobError("this worker has no export settings (EXPORT_DIR, DATABASE_URL)");
      return handleExportJob(deps.exports, payload, ctx);
    },
    [APPROVAL_WEBHOOK]: (payload, ctx) =>
      handleApprovalWebhookJob({ db: deps.db, clock: deps.clock, connectors: deps.connectors }, payload, ctx),
    [EXECUTE_APPROVED]: (payload, ctx) => handleExecuteApprovedJob(workerExecDeps(deps), payload, ctx),
    [REPLAY_EXECUTION]: (payload, ctx) => handleReplayJob(workerExecDeps(deps), payload, ctx),
  };
}

/** What an execution run by this worker needs; probe claims and slot leases name the worker. */
function workerExecDeps(deps: JobDeps) {
  return {
    db: deps.db,
    clock: deps.clock,
    connectors: { ...deps.connectors, resilience: { ...deps.connectors.resilience, instanceId: deps.workerId } },
  };
}

/**
 * Request the calibrations that are due, then run queued ones (these and any asked for through
 * the API) to completion here, so `tick calibrate` finishes them synchronously.
 */
async function runCalibrateTick(deps: JobDeps) {
  const requested = await requestDueCalibrations(deps.db, deps.clock);
  const queue = await runWorkerTick(
    deps.db,
    { [CALIBRATE]: (payload, ctx) => handleCalibrationJob(payload, ctx) },
    { owner: deps.workerId, leaseSeconds: 600, maxJobs: 10, clock: deps.clock },
  );
  return {
    ok: queue.failed === 0,
    requested,
    queue: { claimed: queue.claimed, completed: queue.completed, retried: queue.retried, failed: queue.failed },
  };
}

/** Fire due trigger windows, then drain the queue — decision runs, approved executions, replays, imports, audit exports (bounded per tick). */
async function runDecisionsTick(deps: JobDeps) {
  const triggers = await fireDueTriggers(deps.db, deps.clock);
  const queue = await runWorkerTick(deps.db, queueHandlers(deps), {
    owner: deps.workerId,
    leaseSeconds: 120,
    maxJobs: 50,
    clock: deps.clock,
  });
  return {
    ok: queue.failed === 0,
    triggers,
    queue: { claimed: queue.claimed, completed: queue.completed, retried: queue.retried, failed: queue.failed },
  };
}

/** Every scheduled job, by the name used in `/api/cron/<job>`, `npm run cli -- tick <job>` and the scheduler. */
export const JOBS = {
  decisions: {
    schedule: "* * * * *",
    localSchedule: "*/15 * * * * *",
    description: "Fire due decision triggers and run queued jobs: decision runs, human-approved executions, replays, imports, exports",
    run: runDecisionsTick,
  },
  rituals: {
    schedule: "*/5 * * * *",
    description: "Open trigger windows for due ritual slots (daily brief, weekly review, renewal runway)",
    run: (d) => runRitualTick(d.db, d.clock),
  },
  "demo-source": {
    schedule: "* * * * *",
    localSchedule: "*/30 * * * * *",
    description: "Generate realistic activity for the demo tenant",
    run: (d) => runDemoSourceTick(d.db, d.clock),
  },
  "ledger-verify": {
    schedule: "17 * * * *",
    description: "Re-verify every tenant's ledger hash chain",
    run: (d) => runLedgerVerifyTick(d),
  },
  "executions-sweep": {
    schedule: "* * * * *",
    description: "Retry (same idempotency key) or fail executions left EXECUTING past their lease by a crashed process",
    run: (d) => sweepExecutions(d),
  },
  "crm-sync": {
    schedule: "*/15 * * * *",
    description: "Pull changed CRM records (HubSpot) for every tenant with the crm connector enabled",
    run: (d) => runCrmSyncTick(d),
  },
  perception: {
    schedule: "*/5 * * * *",
    localSchedule: "0 * * * * *",
    description: "Pull what the cadence says is due (hottest tier first) within the daily pull budgets",
    run: (d) => runPerceptionTick({ db: d.db, clock: d.clock, connectors: d.connectors }),
  },
  heat: {
    schedule: "* * * * *",
    localSchedule: "*/20 * * * * *",
    description: "Recompute heat and tiers of accounts whose inputs changed or whose tier may change by time alone",
    run: (d) => runHeatTick({ db: d.db, clock: d.clock }),
  },
  normalize: {
    schedule: "23 * * * *",
    description: "Record the outcome every decided intent is due (response windows included) and ledger the normalisation gap",
    run: (d) => runNormalizeTick(d.db, d.clock),
  },
  shadow: {
    schedule: "7 * * * *",
    description: "Shadow-evaluate ranking weights candidates on live decided proposals; guard recent promotions (roll back on regression)",
    run: (d) => runShadowTick(d.db, d.clock),
  },
  calibrate: {
    schedule: "41 3 * * *",
    description: "Request a calibration for each tenant due one (learning settings), then run queued calibrations",
    run: (d) => runCalibrateTick(d),
  },
  "approvals-expiry": {
    schedule: "*/5 * * * *",
    localSchedule: "0 * * * * *",
    description: "Waiting approvals past the tenant's TTL follow its fallback: reject (EXPIRED) or escalate to an admin",
    run: (d) => runApprovalsExpiryTick(d.db, d.clock),
  },
  digest: {
    schedule: "2 * * * *",
    description:
      "Send each user's daily digest (the previous local day) once their local hour has come; retry a failed send within its window",
    run: (d) => runDigestTick({ db: d.db, clock: d.clock, connectors: d.connectors }),
  },
  "audit-stream": {
    schedule: "* * * * *",
    localSchedule: "*/10 * * * * *",
    description:
      "POST each tenant's new ledger entries, in seq order and signed, to its SIEM stream; retry with backoff until acknowledged",
    run: (d) => runAuditStreamTick({ db: d.db, clock: d.clock }),
  },
} satisfies Record<string, JobDefinition>;

export type JobName = keyof typeof JOBS;

export const JOB_LIST: [JobName, JobDefinition][] = Object.entries(JOBS) as [JobName, JobDefinition][];

export function isJobName(name: string): name is JobName {
  return Object.hasOwn(JOBS, name);
}
