import type { DbOrTx } from "../db";
import { Prisma } from "../generated/sqlite/client.ts";
import { isPostgres } from "./tx";

/** Rows per statement: one JSON parameter each, so only the text's size is bounded. */
const MAX_ROWS = 5_000;

/** A value as the JSON the database expands: a date in the stored text form of its database. */
function jsonValue(v: unknown, pg: boolean): unknown {
  if (v instanceof Date) {
    const iso = v.toISOString();
    // Prisma's SQLite adapter stores DateTime as ISO-8601 with "+00:00"; a PostgreSQL
    // timestamp(3) without time zone takes the UTC text and ignores the zone.
    return pg ? iso : `${iso.slice(0, -1)}+00:00`;
  }
  return v === undefined ? null : v;
}

/**
 * A multi-row INSERT for hot paths that write many rows of a table at once (the gate's admission
 * groups, signal groups, ledger appends), sent as ONE JSON parameter that the database expands
 * into rows: SQLite's `json_each` (booleans arrive as 1/0, as Prisma stores them), PostgreSQL's
 * `json_populate_recordset` over the table's own row type (each value cast to its column's type).
 *
 * Why not bound values: a 64-intent group binds thousands of values, and Prisma's raw-query path
 * handles each one in JavaScript several times over (template, argument typing, the adapter's
 * mapping) — the gate's CPU profile had the Prisma runtime and adapter above SQLite itself. One
 * JSON text is built by V8's serialiser and read by the database in C. Why not `createMany`: it
 * re-copies its growing parameter list for every row. `table` and `columns` are identifiers from
 * code, never input; every value travels inside the one parameter.
 */
export async function insertRows(tx: DbOrTx, table: string, columns: readonly string[], rows: readonly (readonly unknown[])[]) {
  if (rows.length === 0) return;
  const pg = isPostgres(tx);
  const cols = columns.map((c) => `"${c}"`).join(", ");
  for (let i = 0; i < rows.length; i += MAX_ROWS) {
    const part = rows.slice(i, i + MAX_ROWS);
    for (const r of part)
      if (r.length !== columns.length) throw new Error(`insertRows(${table}): a row has ${r.length} values for ${columns.length} columns`);
    if (pg) {
      const json = JSON.stringify(
        part.map((r) => {
          const o: Record<string, unknown> = {};
          columns.forEach((c, k) => {
            o[c] = jsonValue(r[k], true);
          });
          return o;
        }),
      );
      await tx.$executeRaw`INSERT INTO ${Prisma.raw(`"${table}" (${cols})`)} SELECT ${Prisma.raw(cols)}
        FROM json_populate_recordset(NULL::${Prisma.raw(`"${table}"`)}, ${json}::json)`;
    } else {
      const json = JSON.stringify(part.map((r) => r.map((v) => jsonValue(v, false))));
      const picks = columns.map((_, k) => `x.value ->> ${k}`).join(", ");
      await tx.$executeRaw`INSERT INTO ${Prisma.raw(`"${table}" (${cols})`)} SELECT ${Prisma.raw(picks)} FROM json_each(${json}) AS x`;
    }
  }
}
