import { accountDto, contactDto, opportunityDto } from "@/server/http/dto";
import { jsonBody, restRoute } from "@/server/http/rest";
import { AccountUpdateBody } from "@/server/schemas/accounts";
import { IdParam } from "@/server/schemas/rest";
import { getVisibleAccount, updateCrmAccount } from "@/server/services/accounts";

export const dynamic = "force-dynamic";

type Params = { id: string };

export const GET = restRoute<Params>(["read"], async ({ params, db, viewer }) => {
  const { id } = IdParam.parse(params);
  const a = await getVisibleAccount(db, viewer, id);
  return { ...accountDto(a), contacts: a.contacts.map(contactDto), opportunities: a.opportunities.map(opportunityDto) };
});

export const PUT = restRoute<Params>(["admin", "ingest"], async ({ req, params, db, viewer, clock }) => {
  const { id } = IdParam.parse(params);
  const b = await jsonBody(req, AccountUpdateBody);
  const a = await updateCrmAccount(
    db,
    viewer,
    id,
    {
      name: b.name,
      domain: b.domain,
      industry: b.industry,
      lifecycle: b.lifecycle,
      posture: b.posture,
      momentum: b.momentum,
      arrCents: b.arr_cents,
      ownerId: b.owner_id,
      externalId: b.external_id,
    },
    clock,
  );
  return accountDto(a);
});
