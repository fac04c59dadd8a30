"use client";

import { AccountSelect, type Picked } from "../ui/account-select";

export type PickedAccount = Picked;

/** Pick the workspace (no account) or one account to edit its overrides. */
export function AccountPicker({ value, onChange }: { value: PickedAccount; onChange: (a: PickedAccount) => void }) {
  return (
    <AccountSelect value={value} onChange={onChange} label="Scope" searchLabel="Find an account" placeholder="Whole workspace (defaults)" />
  );
}
