import Link from "next/link";

/**
 * What each missing always-on condition means in words, and where it is fixed (SPEC §4.6). Shared
 * by the admin card and the account page so both say the same thing.
 */
export function MissingReasons({
  missing,
  isAdmin,
  ownerName,
  skipAccount = false,
}: {
  missing: readonly string[];
  isAdmin: boolean;
  ownerName?: string | null;
  /** on the account page the toggle right above is the fix for the account's own opt-in */
  skipAccount?: boolean;
}) {
  const shown = missing.filter((m) => !(skipAccount && m === "ACCOUNT_NOT_OPTED_IN"));
  if (shown.length === 0) return null;
  return (
    <ul className="list-disc space-y-1 pl-5 text-sm text-slate-700">
      {shown.map((m) => (
        <li key={m}>
          <Reason reason={m} isAdmin={isAdmin} ownerName={ownerName} />
        </li>
      ))}
    </ul>
  );
}

function Reason({ reason, isAdmin, ownerName }: { reason: string; isAdmin: boolean; ownerName?: string | null }) {
  const link = "font-medium text-brand-700 underline underline-offset-2 hover:text-brand-800";
  switch (reason) {
    case "TENANT_NOT_OPTED_IN":
      return isAdmin ? (
        <>
          The workspace has not switched always-on on —{" "}
          <Link className={link} href="/admin/autonomy#always-on">
            switch it on in Autonomy
          </Link>
          .
        </>
      ) : (
        <>The workspace has not switched always-on on — an admin does that in Autonomy settings.</>
      );
    case "ACCOUNT_NOT_OPTED_IN":
      return <>This account has not opted in — its owner or an admin switches it on on the account page.</>;
    case "NO_DIGEST_CONFIGURED":
      return (
        <>
          {ownerName ? `${ownerName}, the account owner,` : "The account owner"} has no daily digest set up, so nobody would read what
          autopilot did —{" "}
          <Link className={link} href="/digest">
            set up the daily digest
          </Link>
          .
        </>
      );
    default:
      return <>{reason}</>;
  }
}

/** An accessible on/off switch (a button with role="switch"). */
export function Switch({
  checked,
  onChange,
  disabled,
  label,
}: {
  checked: boolean;
  onChange: (next: boolean) => void;
  disabled?: boolean;
  label: string;
}) {
  return (
    <button
      type="button"
      role="switch"
      aria-checked={checked}
      aria-label={label}
      disabled={disabled}
      onClick={() => onChange(!checked)}
      className={`relative inline-flex h-6 w-11 shrink-0 items-center rounded-full border-2 border-transparent transition focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-brand-600 disabled:cursor-not-allowed disabled:opacity-50 ${
        checked ? "bg-emerald-600" : "bg-slate-400"
      }`}
    >
      <span className={`inline-block size-5 rounded-full bg-white shadow transition ${checked ? "translate-x-5" : "translate-x-0"}`} />
    </button>
  );
}
