import type { RouterOutputs } from "../work/types";

export type DecisionSettings = RouterOutputs["decisions"]["settings"];
export type Cadences = RouterOutputs["decisions"]["cadences"];
export type TenantCadence = Cadences["tenant"][number];
export type Spend = RouterOutputs["decisions"]["spend"];
export type DecisionRun = Spend["runs"][number];
export type QueueStats = RouterOutputs["decisions"]["queueStats"];
export type JobItem = RouterOutputs["decisions"]["jobs"]["items"][number];
