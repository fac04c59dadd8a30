"use client";

import { useQuery } from "@tanstack/react-query";
import { OctagonPause } from "lucide-react";
import Link from "next/link";
import { useTRPC } from "../trpc";
import { cx } from "../ui/primitives";
import { RelativeTime } from "../ui/time";
import { useRegistry } from "./labels";

const CONNECTOR_LABEL: Record<string, string> = { internal: "internal", webhook: "webhook", email: "email" };

/** What a switch stops, in words: the whole workspace, one action type, one connector. */
export function killSwitchTarget(scope: string, key: string | null, typeLabel: (t: string) => string) {
  if (scope === "GLOBAL") return "GLOBAL kill switch on (every workspace)";
  if (scope === "TENANT") return "TENANT kill switch on";
  if (scope === "ACTION_TYPE") return `ACTION_TYPE kill switch on for “${key ? typeLabel(key) : "?"}”`;
  if (scope === "CONNECTOR") return `CONNECTOR kill switch on for the ${CONNECTOR_LABEL[key ?? ""] ?? key} connector`;
  return `${scope} kill switch on`;
}

/**
 * Shown on every signed-in page while any kill switch is on (SPEC §4.6). Polls so a switch another
 * admin flips shows up within seconds; a whole-workspace stop is red, a partial one amber.
 */
export function KillSwitchBanner({ isAdmin }: { isAdmin: boolean }) {
  const trpc = useTRPC();
  const { label } = useRegistry();
  const q = useQuery({ ...trpc.work.activeKillSwitches.queryOptions(), refetchInterval: 10_000, refetchOnWindowFocus: true });
  const active = q.data ?? [];
  if (active.length === 0) return null;
  const full = active.some((k) => k.scope === "GLOBAL" || k.scope === "TENANT");

  return (
    <div
      role="alert"
      data-testid="kill-switch-banner"
      className={cx(
        "sticky top-0 z-20 border-b px-6 py-2",
        full ? "border-red-300 bg-red-50 text-red-900" : "border-amber-300 bg-amber-50 text-amber-900",
      )}
    >
      <div className="flex items-start gap-2.5">
        <OctagonPause className="mt-0.5 size-5 shrink-0" aria-hidden />
        <ul className="min-w-0 flex-1 space-y-0.5">
          {active.map((k) => (
            <li key={`${k.scope}:${k.key ?? ""}`}>
              <span className="font-semibold">{full ? "Autopilot paused" : "Autopilot partly paused"}:</span>{" "}
              {killSwitchTarget(k.scope, k.key, label)} — <span className="italic">{k.reason}</span>{" "}
              <span className="text-xs opacity-80">
                · turned on <RelativeTime value={k.updatedAt} />
              </span>
            </li>
          ))}
        </ul>
        {isAdmin && (
          <Link
            href="/admin/kill-switches"
            className="shrink-0 rounded-md border border-current px-2 py-0.5 text-xs font-medium hover:bg-white/60"
          >
            Manage kill switches
          </Link>
        )}
      </div>
    </div>
  );
}
