import type { Actor } from "../engine/ledger";

/**
 * The demo history's human decisions were made by nobody: they are recorded under this clearly
 * named system actor, never a real user's name, and every screen labels them as simulated.
 */
export const DEMO_HISTORY_ACTOR = { type: "SYSTEM", id: "demo-history" } as const satisfies Actor;
export const DEMO_HISTORY_LABEL = "Demo history (simulated)";
