import { randomBytes } from "node:crypto";

let counter = 0;

/**
 * A row id chosen before the insert, for rows written in multi-row batches whose ids other rows
 * and ledger entries of the same batch must name. Shaped like the `cuid()` ids Prisma gives the
 * rest of the table ("c", 8 base-36 chars of wall-clock ms, a 4-char counter, 12 random chars:
 * 25 in all) and ordered the same way — by creation time, then by this process's counter —
 * because lists break ties between equal timestamps on id, and a group of admissions shares one
 * timestamp: its intents must still list in arrival order. Wall clock, not the injected clock:
 * like Prisma's, these ids order real creation, whatever time the app is told it is.
 */
export function newRowId(): string {
  counter = (counter + 1) % 36 ** 4;
  const random = BigInt(`0x${randomBytes(8).toString("hex")}`)
    .toString(36)
    .padStart(13, "0")
    .slice(-12);
  return `c${Date.now().toString(36).padStart(8, "0")}${counter.toString(36).padStart(4, "0")}${random}`;
}
