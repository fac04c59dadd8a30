import { WhatIfAdmin } from "@/components/policy-lab/what-if-admin";
import { PageHeader } from "@/components/ui/primitives";
import { requireViewer } from "@/server/auth/page";

/** Policy what-if and log-only mode (SPEC §4.8): admins only. */
export default async function WhatIfPage() {
  await requireViewer(["ADMIN"]);
  return (
    <>
      <PageHeader
        title="Policy what-if"
        description="Before changing modes, the allowlist or budgets: see which past decisions would change, or run the change in log-only mode beside the active policy, then enforce or discard it."
      />
      <WhatIfAdmin />
    </>
  );
}
