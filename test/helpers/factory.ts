import { randomBytes } from "node:crypto";
import type { SessionLike } from "@/server/auth/viewer";
import type { Db } from "@/server/db";
import { appendLedger } from "@/server/repos/ledger";
import type { Viewer } from "@/server/repos/scope";
import { addMembership, createTenant } from "@/server/repos/tenants";
import { inTransaction } from "@/server/repos/tx";
import type { Role } from "@/server/schemas/common";

const uid = () => randomBytes(4).toString("hex");

export interface TestUser {
  id: string;
  email: string;
  role: Role;
  session: SessionLike;
  viewer: Viewer;
}

export interface TestTenant {
  id: string;
  slug: string;
  admin: TestUser;
  seller: TestUser;
  seller2: TestUser;
  auditor: TestUser;
  /** accounts owned by seller, seller2 and admin respectively */
  accounts: { seller: string[]; seller2: string[]; admin: string[] };
}

/** A tenant with one user per role and a few accounts, built through the same repos the app uses. */
export async function makeTenant(db: Db, slug = `t-${uid()}`): Promise<TestTenant> {
  return inTransaction(db, async (tx) => {
    const tenant = await createTenant(tx, { slug, name: `Tenant ${slug}` });
    const mk = async (role: Role, label: string): Promise<TestUser> => {
      const email = `${label}-${uid()}@${slug}.test`;
      const user = await tx.user.create({ data: { email, name: `${label} ${slug}`, emailVerified: true } });
      await addMembership(tx, tenant.id, user.id, role);
      return {
        id: user.id,
        email,
        role,
        session: { user: { id: user.id, name: user.name, email }, session: { activeTenantId: tenant.id } },
        viewer: { tenantId: tenant.id, actor: { type: "USER", id: user.id }, role, userId: user.id },
      };
    };
    const admin = await mk("ADMIN", "admin");
    const seller = await mk("SELLER", "seller");
    const seller2 = await mk("SELLER", "seller2");
    const auditor = await mk("AUDITOR", "auditor");
    const accounts = { seller: [] as string[], seller2: [] as string[], admin: [] as string[] };
    let n = 0;
    for (const [owner, list] of [
      [seller, accounts.seller],
      [seller2, accounts.seller2],
      [admin, accounts.admin],
    ] as const) {
      for (let i = 0; i < 3; i++) {
        const a = await tx.account.create({
          data: { tenantId: tenant.id, name: `${slug} account ${n++}`, ownerId: owner.id, createdAt: new Date(Date.UTC(2026, 0, 1, 0, n)) },
        });
        list.push(a.id);
        await tx.contact.create({ data: { tenantId: tenant.id, accountId: a.id, name: `Contact ${n}`, email: `c${n}@example.test` } });
      }
    }
    await appendLedger(
      tx,
      { tenantId: tenant.id, type: "CONFIG_CHANGED", actor: { type: "SYSTEM", id: "test" }, payload: { change: "tenant_created" } },
      new Date(),
    );
    return { id: tenant.id, slug, admin, seller, seller2, auditor, accounts };
  });
}
