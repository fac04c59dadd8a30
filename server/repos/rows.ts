import type { Tx } from "../db";
import { Prisma } from "../generated/sqlite/client.ts";

/**
 * Bound values per statement: well under SQLite's 32,766 and PostgreSQL's 65,535 parameter limits.
 */
const MAX_PARAMS = 20_000;

/**
 * A multi-row INSERT through Prisma's typed raw query, for hot paths that write many rows of a
 * table at once (the gate's admission groups). Why not `createMany`: through the driver adapters
 * Prisma renders a createMany by re-copying its growing parameter list for every row, which made
 * a 64-intent group spend more time in Prisma's query templating than in SQLite (profiled,
 * issue 13); a raw multi-row INSERT binds each value once. `table` and `columns` are
 * identifiers from code, never input; every value is a bound parameter.
 */
export async function insertRows(tx: Tx, table: string, columns: readonly string[], rows: readonly (readonly unknown[])[]) {
  if (rows.length === 0) return;
  const head = Prisma.raw(`INSERT INTO "${table}" (${columns.map((c) => `"${c}"`).join(", ")}) VALUES `);
  const perStatement = Math.max(1, Math.floor(MAX_PARAMS / columns.length));
  for (let i = 0; i < rows.length; i += perStatement) {
    const values = rows.slice(i, i + perStatement).map((r) => {
      if (r.length !== columns.length) throw new Error(`insertRows(${table}): a row has ${r.length} values for ${columns.length} columns`);
      return Prisma.sql`(${Prisma.join(r)})`;
    });
    await tx.$executeRaw`${head}${Prisma.join(values)}`;
  }
}
