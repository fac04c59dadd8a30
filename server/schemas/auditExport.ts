import { z } from "zod";
import { EXPORT_FORMATS } from "../engine/auditExport";
import { Cursor } from "./common";

const IsoDate = z.iso.datetime({ offset: true }).transform((s) => new Date(s));

/** REST `POST /api/v1/autonomy/audit/exports`. The range cap is checked after parsing (422 on `to`). */
export const AuditExportBody = z.object({
  from: IsoDate,
  to: IsoDate,
  format: z.enum(EXPORT_FORMATS),
  account_id: z.string().min(1).max(64).optional(),
});

/** tRPC `auditExports.request` (the exports page's form sends ISO strings too). */
export const AuditExportRequestInput = z.object({
  from: IsoDate,
  to: IsoDate,
  format: z.enum(EXPORT_FORMATS),
  accountId: z.string().min(1).max(64).optional(),
});

export const AuditExportGetInput = z.object({ id: z.string().min(1).max(64) });
export const AuditExportListInput = z
  .object({ limit: z.number().int().min(1).max(100).default(20), cursor: Cursor.optional() })
  .default({ limit: 20 });

/** REST `GET /api/v1/autonomy/audit/exports` (newest first). */
export const RestAuditExportListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: Cursor.optional(),
});
