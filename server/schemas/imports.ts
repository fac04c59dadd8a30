import { z } from "zod";
import { IMPORT_KINDS } from "../engine/importRows";
import { INPUT_LIMITS } from "../http/limits";

export const ImportKind = z.enum(IMPORT_KINDS);

/** REST `POST /api/v1/accounts/import?kind=…` (the body is the CSV itself). */
export const RestImportQuery = z.object({
  kind: ImportKind.default("accounts"),
  file_name: z.string().trim().min(1).max(200).optional(),
});

/**
 * tRPC `imports.create`: the page sends the file's text in pieces, because every string in a tRPC
 * input is capped (server/http/limits.ts maxStringLength); the pieces are joined unchanged. The
 * tRPC body cap (1 MiB) bounds the whole file on this path — larger files go through REST (5 MiB).
 */
export const ImportCreateInput = z.object({
  kind: ImportKind,
  fileName: z.string().trim().min(1).max(200).optional(),
  parts: z.array(z.string().max(INPUT_LIMITS.maxStringLength)).min(1).max(20),
});
export type ImportCreateInput = z.infer<typeof ImportCreateInput>;

export const ImportGetInput = z.object({ id: z.string().min(1).max(64) });
export const ImportListInput = z.object({ limit: z.number().int().min(1).max(50).default(10) }).default({ limit: 10 });

export const ImportStatus = z.enum(["PENDING", "RUNNING", "COMPLETED", "FAILED"]);
export type ImportStatus = z.infer<typeof ImportStatus>;
