import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { CSV_HEADER_V1, type ExportFormat } from "../../engine/auditExport";
import type { ExportChunk } from "../../repos/ledgerBulk";

/**
 * Export files on disk: `<dir>/<export id>-<run start, epoch ms>.<format>` — one name per run, so
 * a superseded run (its lease expired and another worker restarted the export) can never
 * overwrite the file of the run that finished the export. Written by streaming (chunks of encoded
 * rows from the scanner → sha256 and byte count on the way → file), so memory holds one
 * page whatever the size. A run writes a private temporary file and renames it into place only
 * when complete, so a crashed or superseded run never leaves a half file under the final name.
 */

export interface ExportFileName {
  id: string;
  run: Date;
  format: ExportFormat;
}

export function exportFilePath(dir: string, f: ExportFileName) {
  return path.join(dir, `${f.id}-${f.run.getTime()}.${f.format}`);
}

export async function removeExportFile(dir: string, f: ExportFileName) {
  await fs.promises.rm(exportFilePath(dir, f), { force: true });
}

export interface WrittenFile {
  rowCount: number;
  sha256: string;
  bytes: number;
}

/**
 * Write the file for `chunks` (the rows, already encoded by the scanner: server/repos/
 * ledgerBulk.ts) and return its row count, sha256 and size. One write per chunk of a page's rows:
 * per-row stream chunks cost more than the rows themselves. At most one chunk's write is in
 * flight while the next is read, so two pages are in memory (a write stream's queue kept pages
 * alive long enough to be promoted, and the heap climbed ~280 MB on 2×300k rows; direct writes:
 * ~80 MB). `onPage` runs after each page (progress). On failure the temporary file is removed and
 * the error thrown.
 */
export async function writeExportFile(
  dir: string,
  file: ExportFileName,
  chunks: AsyncIterable<ExportChunk>,
  onPage: (rowsSoFar: number) => Promise<void>,
): Promise<WrittenFile> {
  await fs.promises.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${file.id}.${randomBytes(6).toString("hex")}.part`);
  const hash = createHash("sha256");
  let bytes = 0;
  let rowCount = 0;
  const measured = (buf: Buffer) => {
    hash.update(buf);
    bytes += buf.length;
    return buf;
  };
  // At most one write in flight (no stream queue): the next page is read and encoded while the
  // previous one is written (awaiting each write before the next read left the export idle for a
  // seventh of its time), and a page's bytes are garbage once its write returns, so at most two
  // pages are alive.
  const out = await fs.promises.open(tmp, "w");
  let writing: Promise<unknown> = Promise.resolve();
  try {
    try {
      if (file.format === "csv") await out.write(measured(Buffer.from(CSV_HEADER_V1, "utf8")));
      for await (const chunk of chunks) {
        const data = measured(chunk.data);
        rowCount += chunk.rows;
        await writing;
        writing = out.write(data);
        // Awaited before the next write or below; until then a failure must not count as unhandled.
        writing.catch(() => undefined);
        await onPage(rowCount);
      }
      await writing;
    } finally {
      await writing.catch(() => undefined);
      await out.close();
    }
    await fs.promises.rename(tmp, exportFilePath(dir, file));
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  return { rowCount, sha256: hash.digest("hex"), bytes };
}

/** A finished export's file as a stream, or null when it is not on disk (deleted, another host). */
export async function openExportFile(dir: string, f: ExportFileName): Promise<{ stream: fs.ReadStream; bytes: number } | null> {
  const file = exportFilePath(dir, f);
  try {
    const stat = await fs.promises.stat(file);
    return { stream: fs.createReadStream(file), bytes: stat.size };
  } catch {
    return null;
  }
}
