import type { Db } from "../db";
import { pingDatabase } from "../repos/health";

export async function checkHealth(db: Db, version: string) {
  try {
    await pingDatabase(db);
    return { ok: true, db: "up", version };
  } catch {
    return { ok: false, db: "down", version };
  }
}
