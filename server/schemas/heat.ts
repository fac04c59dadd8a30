import { z } from "zod";
import { Cursor } from "./common";

/** `GET /api/v1/perception/heat` query: a page of the hottest accounts. */
export const RestHeatQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: Cursor.optional(),
});

export const HeatHottestInput = z.object({
  limit: z.number().int().min(1).max(100).default(20),
  cursor: Cursor.optional(),
});

export const HeatHistoryInput = z.object({
  accountId: z.string().min(1).max(64),
  /** how many UTC days back, today included */
  days: z.number().int().min(1).max(365).default(30),
});
