/**
 * The autonomy gate's stable entry point. The gate itself lives in ./gate/, split along its
 * seams: intake (the one production door), evaluate (configuration → pure policy), budget
 * (persisting the engine's budget rules), failClosed (GATE_ERROR), records (evaluation rows
 * and ledger drafts) and view.
 */
export { submitIntent } from "./gate/intake";
export type { GateDeps, GateView, IntentInput } from "./gate/types";
export { intentView } from "./gate/view";
