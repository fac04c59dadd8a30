import {
  Activity,
  BookLock,
  Brain,
  Building2,
  FileDown,
  FileUp,
  Flame,
  FlaskConical,
  GraduationCap,
  History,
  Inbox,
  KeyRound,
  ListChecks,
  ListOrdered,
  Mail,
  OctagonPause,
  Plug,
  ScanEye,
  ShieldCheck,
  SlidersHorizontal,
} from "lucide-react";

/**
 * The shell's navigation, in a module of its own so that `npm run bench -- pages` measures
 * exactly the pages people can reach from it (bench/pages.ts) without loading the shell.
 */

export type Role = "ADMIN" | "SELLER" | "AUDITOR";

const ALL: Role[] = ["ADMIN", "SELLER", "AUDITOR"];

export const NAV: { href: string; label: string; icon: typeof Building2; roles: Role[]; section: string; badge?: "inbox" }[] = [
  { href: "/inbox", label: "Inbox", icon: Inbox, roles: ALL, section: "Work", badge: "inbox" },
  { href: "/next", label: "Next actions", icon: ListOrdered, roles: ["ADMIN", "SELLER"], section: "Work" },
  { href: "/timeline", label: "Timeline", icon: History, roles: ALL, section: "Work" },
  { href: "/accounts", label: "Accounts", icon: Building2, roles: ALL, section: "Work" },
  { href: "/ledger", label: "Ledger", icon: BookLock, roles: ["ADMIN", "AUDITOR"], section: "Audit" },
  { href: "/admin/exports", label: "Exports", icon: FileDown, roles: ["ADMIN"], section: "Audit" },
  { href: "/admin/autonomy", label: "Autonomy", icon: SlidersHorizontal, roles: ["ADMIN"], section: "Admin" },
  { href: "/admin/kill-switches", label: "Kill switches", icon: OctagonPause, roles: ["ADMIN"], section: "Admin" },
  { href: "/admin/decisions", label: "Decisions", icon: Brain, roles: ["ADMIN"], section: "Admin" },
  { href: "/admin/jobs", label: "Job queue", icon: ListChecks, roles: ["ADMIN"], section: "Admin" },
  { href: "/admin/api-keys", label: "API keys", icon: KeyRound, roles: ["ADMIN"], section: "Admin" },
  { href: "/admin/import", label: "CSV import", icon: FileUp, roles: ["ADMIN"], section: "Admin" },
  { href: "/admin/connectors", label: "Connectors", icon: Plug, roles: ["ADMIN", "AUDITOR"], section: "Admin" },
  { href: "/admin/perception", label: "Perception", icon: ScanEye, roles: ["ADMIN"], section: "Admin" },
  { href: "/admin/learning", label: "Learning", icon: GraduationCap, roles: ["ADMIN", "AUDITOR"], section: "Admin" },
  { href: "/admin/monitoring", label: "Monitoring", icon: Activity, roles: ["ADMIN"], section: "Admin" },
  { href: "/admin/what-if", label: "Policy what-if", icon: FlaskConical, roles: ["ADMIN"], section: "Admin" },
  { href: "/admin/reliability", label: "Reliability", icon: ShieldCheck, roles: ["ADMIN", "AUDITOR"], section: "Admin" },
  { href: "/heat", label: "Heat", icon: Flame, roles: ALL, section: "Work" },
  { href: "/digest", label: "Daily digest", icon: Mail, roles: ALL, section: "Work" },
];
