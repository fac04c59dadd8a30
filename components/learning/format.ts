import type { RouterOutputs } from "../work/types";

export type WeightsView = RouterOutputs["learning"]["weights"];
export type Version = WeightsView["items"][number];
export type Shadow = NonNullable<Version["shadow"]>;
export type HistoryView = RouterOutputs["learning"]["history"];
export type Calibration = RouterOutputs["learning"]["calibrations"][number];

const num3 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 3, minimumFractionDigits: 0 });
export const fmtInt = new Intl.NumberFormat("en-US");

/** A metric to three places, or an em dash when there is none. */
export function metric(v: number | null | undefined): string {
  return v === null || v === undefined ? "—" : num3.format(v);
}

export const versionName = (v: { version: number | null }) => (v.version === null ? "removed version" : `v${v.version}`);

/**
 * Why a shadow gate result passed or not, in the words the server's refusal uses
 * (server/services/learning/registry.ts ShadowGateNotPassed), so the table and the dialog agree.
 */
export function gateReason(s: Pick<Shadow, "sample" | "min_sample" | "window_days" | "value" | "threshold" | "passed" | "baseline_value">) {
  if (s.sample < s.min_sample) return `only ${s.sample} decided proposals in the last ${s.window_days} days, ${s.min_sample} needed`;
  if (s.value === null || s.threshold === null) return `no owner-day had enough mixed outcomes to compare rankings (${s.sample} proposals)`;
  if (!s.passed)
    return `${metric(s.value)} is below the threshold ${metric(s.threshold)} (incumbent ${metric(s.baseline_value)} plus the minimum lift)`;
  return `${metric(s.value)} reaches the threshold ${metric(s.threshold)} on ${s.sample} proposals`;
}

export const PHASE_TEXT: Record<string, string> = {
  LOADING: "Loading labelled decisions",
  FITTING: "Fitting the model",
  EVALUATING: "Evaluating against the incumbent",
  REGISTERING: "Registering the candidate",
};

export const finished = (status: string) => status === "COMPLETED" || status === "FAILED";
