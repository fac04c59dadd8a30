import type { Clock } from "../../clock";
import type { Db } from "../../db";
import type { Actor } from "../../engine/ledger";
import type { ConnectorDeps } from "../executor";
import type { Synthesizer } from "../llmSynthesizer";

export interface DecisionDeps {
  db: Db;
  clock: Clock;
  synthesizer: Synthesizer;
  connectors: ConnectorDeps;
}

export const RUN_DECISION = "RUN_DECISION";
export const SYSTEM: Actor = { type: "SYSTEM", id: "decisions" };
