import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

/**
 * Secrets a newcomer should never have to invent: taken from the environment when set, otherwise
 * generated once and kept under ./data (git-ignored) so sessions survive restarts.
 */
export function ensureLocalSecret(name: string, dataDir = "data"): string {
  const fromEnv = process.env[name];
  if (fromEnv) return fromEnv;
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, `.${name.toLowerCase()}`);
  if (fs.existsSync(file)) return fs.readFileSync(file, "utf8").trim();
  const value = randomBytes(32).toString("base64url");
  fs.writeFileSync(file, value, { mode: 0o600 });
  return value;
}
