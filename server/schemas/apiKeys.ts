import { z } from "zod";
import { ApiKeyScope } from "./common";

export const ApiKeyCreateInput = z.object({
  name: z.string().trim().min(1).max(80),
  scopes: z.array(ApiKeyScope).min(1),
});
export const ApiKeyRevokeInput = z.object({ id: z.string().min(1).max(64) });
