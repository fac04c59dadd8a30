import "server-only";
import { headers } from "next/headers";
import { forbidden, redirect } from "next/navigation";
import { getDb } from "../db";
import type { Role } from "../schemas/common";
import { getAuth } from "./auth";
import { type SignedInViewer, viewerFromSession } from "./viewer";

/**
 * Server-component guard: not signed in → the sign-in page; signed in without the role → the
 * 403 page (`app/forbidden.tsx`). Pages call this first; the tRPC procedures enforce the same
 * tiers again, so a page guard is convenience, never the only check.
 */
export async function requireViewer(roles?: Role[]): Promise<SignedInViewer> {
  const session = await getAuth().api.getSession({ headers: await headers() });
  if (!session) redirect("/sign-in");
  const viewer = await viewerFromSession(getDb(), session);
  if (!viewer) forbidden();
  if (roles && !roles.includes(viewer.role)) forbidden();
  return viewer;
}
