"use client";

import { useState } from "react";
import { Card } from "../ui/primitives";
import { AccountPicker, type PickedAccount } from "./account-picker";
import { AllowlistEditor } from "./allowlist-editor";
import { AlwaysOnAdmin } from "./always-on-admin";
import { BudgetEditor } from "./budget-editor";
import { ModeMatrix } from "./mode-matrix";

/** Modes, allowlist and budget for the workspace, or for one account when one is picked. */
export function AutonomyAdmin() {
  const [account, setAccount] = useState<PickedAccount>(null);
  return (
    <div className="space-y-4">
      <Card>
        <div className="flex flex-wrap items-end justify-between gap-3 px-4 py-3">
          <AccountPicker value={account} onChange={setAccount} />
          <p className="max-w-md text-xs text-slate-500">
            {account
              ? `Editing overrides for ${account.name}. Workspace settings still apply where the account has none.`
              : "Editing workspace defaults. Pick an account to add overrides for it and see its budget use today."}
          </p>
        </div>
      </Card>
      <ModeMatrix account={account} />
      <AllowlistEditor key={`allow-${account?.id ?? ""}`} account={account} />
      <BudgetEditor key={`budget-${account?.id ?? ""}`} account={account} />
      <AlwaysOnAdmin />
    </div>
  );
}
