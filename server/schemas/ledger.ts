import { z } from "zod";
import { LEDGER_ENTRY_TYPES } from "../engine/ledger";
import { Cursor } from "./common";

export const LedgerEntryType = z.enum(LEDGER_ENTRY_TYPES);

export const LedgerListInput = z.object({
  limit: z.number().int().min(1).max(200).default(50),
  cursor: Cursor.optional(),
  accountId: z.string().min(1).max(64).optional(),
  type: LedgerEntryType.optional(),
  correlationId: z.string().min(1).max(128).optional(),
  from: z.date().optional(),
  to: z.date().optional(),
  /** entries at or before this seq (the explorer jumps to where a verify found a break) */
  maxSeq: z.number().int().min(0).max(2_147_483_647).optional(),
});
