// Database tooling, fully offline, for both providers (SQLite and PostgreSQL).
//
//   npx tsx scripts/db.ts generate              prisma generate for prisma/sqlite and prisma/postgres
//   npx tsx scripts/db.ts deploy                apply pending migrations to DATABASE_URL
//   npx tsx scripts/db.ts status                applied / pending migrations of DATABASE_URL
//   npx tsx scripts/db.ts create --name <name>  write the migration(s) the model changes need
//   npx tsx scripts/db.ts check                 exit 1 unless the migrations produce the models
//
// Options: --prisma-dir <dir> (default: <repo>/prisma) points every command at another copy of
// the prisma folder (tests use it). Environment: DATABASE_URL (default file:./data/autopilot.db),
// PG_URL (server used for throwaway databases, default postgresql://postgres@127.0.0.1:5432/postgres),
// SHADOW_DATABASE_URL (use, and wipe, this database instead of creating one).
//
// Migrations are computed by Prisma's schema engine compiled to WebAssembly (scripts/db/engine.ts)
// and applied by the light runtime runner (server/db/migrate.ts), which `npm start` also uses.

import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type Context, check, create, deploy, generate, status } from "./db/commands";

const USAGE = "usage: npx tsx scripts/db.ts <generate|deploy|status|create --name <snake_name>|check> [--prisma-dir <dir>]";

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: "string" },
      "prisma-dir": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const prismaDirOption = values["prisma-dir"];
  const ctx: Context = {
    repoRoot,
    prismaDir: prismaDirOption === undefined ? path.join(repoRoot, "prisma") : path.resolve(prismaDirOption),
  };
  const [command, ...rest] = positionals;
  if (values.help === true || command === undefined || rest.length > 0) {
    console.log(USAGE);
    return values.help === true ? 0 : 2;
  }
  switch (command) {
    case "generate":
      return generate(ctx);
    case "deploy":
      return deploy(ctx);
    case "status":
      return status(ctx);
    case "create":
      return create(ctx, values.name);
    case "check":
      return check(ctx);
    default:
      console.error(`unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  // The messages are written for people (which migration, what to do); stacks only on request.
  const detail = error instanceof Error ? (process.env.DEBUG ? (error.stack ?? error.message) : error.message) : String(error);
  console.error(`error: ${detail}`);
  process.exitCode = 1;
}
