import { type JobDeps, runLedgerVerifyTick } from "./ledgerVerify";

export type { JobDeps };

export interface JobDefinition {
  /** cron expression (UTC) for the local scheduler and vercel.json */
  schedule: string;
  description: string;
  run: (deps: JobDeps) => Promise<{ ok: boolean }>;
}

/** Every scheduled job, by the name used in `/api/cron/<job>`, `npm run cli -- tick <job>` and the scheduler. */
export const JOBS = {
  "ledger-verify": {
    schedule: "17 * * * *",
    description: "Re-verify every tenant's ledger hash chain",
    run: runLedgerVerifyTick,
  },
} satisfies Record<string, JobDefinition>;

export type JobName = keyof typeof JOBS;

export function isJobName(name: string): name is JobName {
  return Object.hasOwn(JOBS, name);
}
