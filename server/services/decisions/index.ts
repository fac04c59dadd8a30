/**
 * Always-on decisions (SPEC §4.3), split along the spine: trigger windows fire into runs
 * (`fire.ts`), runs are also requested directly (`request.ts`), and a run goes admission lock →
 * cost gate → synthesis → autonomy gate (`run.ts`). One correlation id — the trigger window's —
 * is carried from the first signal to the last outcome.
 */
export { fireDueTriggers } from "./fire";
export { type RunRequestResult, requestRun } from "./request";
export { executeRun } from "./run";
export { type DecisionDeps, RUN_DECISION } from "./shared";
