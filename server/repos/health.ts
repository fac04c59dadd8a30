import type { Db } from "../db";

/** A round trip to the database; throws when it is unreachable or the URL is wrong. */
export async function pingDatabase(db: Db) {
  await db.$queryRawUnsafe("SELECT 1");
}
