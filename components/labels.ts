import type { Tone } from "./ui/primitives";

export const POSTURE_TONE: Record<string, Tone> = { OK: "green", WATCH: "amber", AT_RISK: "red", EXPAND: "violet", DORMANT: "slate" };
export const LIFECYCLE_TONE: Record<string, Tone> = { PROSPECT: "slate", SUSPECT: "blue", CUSTOMER: "green" };
export const MOMENTUM_ARROW: Record<string, string> = { UP: "↑", FLAT: "→", DOWN: "↓" };

export function humanize(code: string) {
  return code.charAt(0) + code.slice(1).toLowerCase().replaceAll("_", " ");
}

export function money(cents: number) {
  return new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 }).format(cents / 100);
}
