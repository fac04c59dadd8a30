import { z } from "zod";
import { Cursor, Lifecycle, Posture } from "./common";
import { LedgerEntryType } from "./ledger";

/** Query strings arrive as text; these coerce and bound them, naming the field on failure. */
const Limit = z.coerce.number().int().min(1).max(200).default(50);
const IsoDate = z.iso.datetime({ offset: true }).transform((s) => new Date(s));

export const RestAccountListQuery = z.object({
  limit: Limit,
  cursor: Cursor.optional(),
  q: z.string().trim().max(100).optional(),
  lifecycle: Lifecycle.optional(),
  posture: Posture.optional(),
});

export const RestLedgerQuery = z.object({
  limit: Limit,
  cursor: Cursor.optional(),
  account_id: z.string().min(1).max(64).optional(),
  type: LedgerEntryType.optional(),
  correlation_id: z.string().min(1).max(128).optional(),
  from: IsoDate.optional(),
  to: IsoDate.optional(),
});

export const IdParam = z.object({ id: z.string().min(1).max(64) });
