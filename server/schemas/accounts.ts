import { z } from "zod";
import { Cursor, Lifecycle, Momentum, Posture } from "./common";

export const AccountListInput = z.object({
  limit: z.number().int().min(1).max(200).default(50),
  cursor: Cursor.optional(),
  q: z.string().trim().max(100).optional(),
  lifecycle: Lifecycle.optional(),
  posture: Posture.optional(),
});

/** REST `PUT /api/v1/accounts/:id` body: the CRM-side fields, snake_case per SPEC §5.1. */
export const AccountUpdateBody = z
  .object({
    name: z.string().trim().min(1).max(200).optional(),
    domain: z.string().trim().max(253).nullable().optional(),
    industry: z.string().trim().max(100).nullable().optional(),
    lifecycle: Lifecycle.optional(),
    posture: Posture.optional(),
    momentum: Momentum.optional(),
    arr_cents: z.number().int().min(0).max(1e13).optional(),
    owner_id: z.string().min(1).max(64).nullable().optional(),
    external_id: z.string().min(1).max(128).nullable().optional(),
  })
  .strict();
export type AccountUpdateBody = z.infer<typeof AccountUpdateBody>;
