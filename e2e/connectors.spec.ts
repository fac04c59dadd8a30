import { randomUUID } from "node:crypto";
import { expect, test } from "@playwright/test";
import { FakeHubspot } from "../test/helpers/fakeHubspot";
import { shot, signIn } from "./helpers";

/**
 * The connectors page end to end: an admin (of globex, so the demo tenant's data stays as other
 * specs expect) points the CRM connector at a HubSpot-like local server, confirms the widening with
 * a reason, syncs, and sees the counts; the token is never shown again. Screenshots for review.
 */
test("connectors: configure the CRM, confirm, sync now, see the last sync; the token is never echoed", async ({ page }) => {
  const token = `pat-na1-${randomUUID()}`;
  const hub = await new FakeHubspot({ token, now: () => Date.now(), pageSize: 50 }).start();
  try {
    // Globex's seeded accounts carry CRM ids crm-globex-1000…: the sync updates those rows rather
    // than adding accounts (other specs count globex's accounts).
    for (let i = 0; i < 4; i++) {
      const c = hub.add(
        "companies",
        { name: `Initech ${i}`, domain: `initech${i}.example`, lifecyclestage: i ? "lead" : "customer" },
        Date.now(),
        `crm-globex-${1000 + i}`,
      );
      const p = hub.add("contacts", { firstname: "Peter", lastname: `Gibbons ${i}`, email: `peter${i}@initech${i}.example` });
      hub.associate(c, "contacts", p);
      const d = hub.add("deals", { dealname: `TPS rollout ${i}`, dealstage: "contractsent", amount: "25000" });
      hub.associate(c, "deals", d);
    }
    await signIn(page, "admin@globex.test");
    await page.goto("/admin/connectors");
    await expect(page.getByRole("heading", { name: "Connectors" })).toBeVisible();
    await expect(page.getByText("No sync yet")).toBeVisible();
    await shot(page, "connectors-empty");

    await page.getByLabel("Base URL").fill(hub.url);
    await page.getByLabel("Private-app token").fill(token);
    await page.getByLabel(/^Enabled/).check();
    await page.getByRole("button", { name: "Save CRM settings" }).click();
    const dialog = page.getByRole("dialog", { name: "Widen the CRM connector?" });
    await expect(dialog).toBeVisible();
    await page.screenshot({ path: "test-results/screenshots/connectors-confirm.png" });
    await dialog.getByLabel("Reason").fill("pilot with the globex team");
    await dialog.getByRole("button", { name: "Save and widen" }).click();
    await expect(page.getByText("CRM connector settings saved.")).toBeVisible();
    await expect(page.getByText("Set (write-only)").first()).toBeVisible();

    await page.getByRole("button", { name: "Sync now" }).click();
    await expect(page.getByText("Synced.")).toBeVisible();
    await expect(page.getByRole("cell", { name: "4" }).first()).toBeVisible(); // companies
    expect(await page.content()).not.toContain(token);
    await shot(page, "connectors-synced");
    expect(hub.requests.every((r) => r.authorization === `Bearer ${token}`)).toBe(true);
  } finally {
    await hub.stop();
  }
});
