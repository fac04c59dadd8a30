import path from "node:path";
import { defineConfig } from "prisma/config";

// Generation only (see scripts/db.ts for migrations). The stub keeps the CLI from trying to
// download a native engine it does not need for `prisma generate`.
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= path.resolve("scripts/prisma-schema-engine-stub.sh");

export default defineConfig({
  schema: process.env.PRISMA_SCHEMA ?? "prisma/sqlite",
});
