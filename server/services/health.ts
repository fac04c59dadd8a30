import type { Db } from "../db";

export async function checkHealth(db: Db, version: string) {
  try {
    await db.$queryRawUnsafe("SELECT 1");
    return { ok: true, db: "up", version };
  } catch {
    return { ok: false, db: "down", version };
  }
}
