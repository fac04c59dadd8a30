import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";

export type RouterOutputs = inferRouterOutputs<AppRouter>;
export type InboxItem = RouterOutputs["work"]["inbox"]["items"][number];
export type TimelineItem = RouterOutputs["work"]["timeline"]["items"][number];
export type Explanation = RouterOutputs["work"]["explanation"];
export type Artifact = RouterOutputs["work"]["artifacts"][number];

/** A tRPC error's code (CONFLICT, FORBIDDEN, …) when there is one. */
export function errorCode(err: unknown): string | undefined {
  const data = (err as { data?: { code?: unknown } } | null)?.data;
  return typeof data?.code === "string" ? data.code : undefined;
}
