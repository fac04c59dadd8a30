import { ledgerEntryDto } from "@/server/http/dto";
import { queryParams, restRoute } from "@/server/http/rest";
import { RestLedgerQuery } from "@/server/schemas/rest";
import { listLedgerEntries } from "@/server/services/ledger";

export const dynamic = "force-dynamic";

export const GET = restRoute(["read"], async ({ req, db, viewer }) => {
  const q = queryParams(req, RestLedgerQuery);
  const page = await listLedgerEntries(
    db,
    viewer,
    { accountId: q.account_id, type: q.type, correlationId: q.correlation_id, from: q.from, to: q.to },
    { limit: q.limit, cursor: q.cursor },
  );
  return { items: page.items.map(ledgerEntryDto), next_cursor: page.nextCursor };
});
