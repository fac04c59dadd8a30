import { snake } from "@/server/http/dto";
import { restRoute } from "@/server/http/rest";
import { IdParam } from "@/server/schemas/rest";
import { intentDetail } from "@/server/services/inbox";

export const dynamic = "force-dynamic";

export const GET = restRoute<{ id: string }>(["read"], async ({ params, db, viewer }) => {
  const { id } = IdParam.parse(params);
  return snake(await intentDetail(db, viewer, id));
});
