"use client";

import { useQuery } from "@tanstack/react-query";
import { LogOut, Radar } from "lucide-react";
import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import type { ReactNode } from "react";
import { NAV, type Role } from "./nav";
import { Providers, useTRPC } from "./trpc";
import { Badge, cx } from "./ui/primitives";
import { KillSwitchBanner } from "./work/kill-switch-banner";

/** Pending-approval count for the nav; one small page of the inbox, so "50+" past that. */
function InboxCount() {
  const trpc = useTRPC();
  const q = useQuery({ ...trpc.work.inbox.queryOptions({ limit: 50 }), refetchInterval: 30_000 });
  const n = q.data?.items.length ?? 0;
  if (n === 0) return null;
  const text = q.data?.nextCursor ? `${n}+` : String(n);
  return (
    <span
      data-testid="inbox-count"
      className="ml-auto rounded-full bg-brand-600 px-1.5 py-px text-[11px] font-semibold tabular-nums text-white"
      title={`${text} waiting for input`}
    >
      {text}
      <span className="sr-only"> waiting for input</span>
    </span>
  );
}

export function Shell({
  viewer,
  children,
}: {
  viewer: { name: string; email: string; role: Role; tenantName: string; tenantSlug: string };
  children: ReactNode;
}) {
  const pathname = usePathname();
  const router = useRouter();
  const items = NAV.filter((n) => n.roles.includes(viewer.role));
  const sections = [...new Set(items.map((i) => i.section))];

  async function signOut() {
    // The auth client (~12 KB gzip) is needed for this click only, not for every page's first load.
    const { authClient } = await import("./auth-client");
    await authClient.signOut();
    router.push("/sign-in");
    router.refresh();
  }

  return (
    <Providers>
      <div className="flex min-h-screen">
        <aside className="flex w-56 shrink-0 flex-col border-r border-slate-200 bg-white">
          <div className="flex items-center gap-2 border-b border-slate-200 px-4 py-3">
            <Radar className="size-5 text-brand-600" aria-hidden />
            <div className="leading-tight">
              <div className="font-semibold">Autopilot</div>
              <div className="text-xs text-slate-500">Control Center</div>
            </div>
          </div>
          <nav aria-label="Main" className="flex-1 space-y-4 px-2 py-3">
            {sections.map((section) => (
              <div key={section}>
                <div className="px-2 pb-1 text-[11px] font-semibold uppercase tracking-wide text-slate-500">{section}</div>
                {items
                  .filter((i) => i.section === section)
                  .map((i) => {
                    const active = pathname === i.href || pathname.startsWith(`${i.href}/`);
                    return (
                      <Link
                        key={i.href}
                        href={i.href}
                        aria-current={active ? "page" : undefined}
                        className={cx(
                          "flex items-center gap-2 rounded-md px-2 py-1.5 font-medium",
                          active ? "bg-brand-50 text-brand-700" : "text-slate-700 hover:bg-slate-100",
                        )}
                      >
                        <i.icon className="size-4" aria-hidden /> {i.label}
                        {i.badge === "inbox" && <InboxCount />}
                      </Link>
                    );
                  })}
              </div>
            ))}
          </nav>
          <div className="border-t border-slate-200 p-3">
            <div className="truncate font-medium" title={viewer.email}>
              {viewer.name}
            </div>
            <div className="mt-0.5 flex items-center gap-1.5 text-xs text-slate-500">
              <Badge tone="blue">{viewer.role}</Badge>
              <span className="truncate" title={viewer.tenantSlug}>
                {viewer.tenantName}
              </span>
            </div>
            <button
              type="button"
              onClick={signOut}
              className="mt-2 flex items-center gap-1.5 rounded px-1 py-0.5 text-xs text-slate-600 hover:text-slate-900"
            >
              <LogOut className="size-3.5" aria-hidden /> Sign out
            </button>
          </div>
        </aside>
        <div className="flex min-w-0 flex-1 flex-col">
          <KillSwitchBanner isAdmin={viewer.role === "ADMIN"} />
          <main className="min-w-0 flex-1 px-6 py-5">{children}</main>
        </div>
      </div>
    </Providers>
  );
}
