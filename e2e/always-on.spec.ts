import { type APIRequestContext, expect, test } from "@playwright/test";
import { card, createApiKey, shot, signIn } from "./helpers";

/**
 * Always-on autonomy (SPEC §4.6). The demo seed opts the workspace in, gives seller@demo.test a
 * daily digest and opts every other one of their accounts in; the seller opts one more in on its
 * account page, and the admin sees it (and what the others still lack) on the Autonomy page.
 */
let key = "";

async function api(request: APIRequestContext, path: string) {
  const res = await request.fetch(path, { headers: { authorization: `Bearer ${key}` } });
  expect(res.status(), `GET ${path}: ${await res.text()}`).toBe(200);
  return res.json();
}

test("the seller opts an account in on its page; the admin sees every account's state", async ({ page, request }) => {
  await signIn(page, "admin@demo.test");
  key = await createApiKey(page, "e2e always-on", ["admin"]);
  const accounts = (await api(request, "/api/v1/accounts?limit=200")) as {
    items: { id: string; name: string; owner: { email: string } | null }[];
  };
  const mine = accounts.items.filter((a) => a.owner?.email === "seller@demo.test");
  // The seller's digest is configured and the workspace is in: only the account's own opt-in is missing.
  let target: { id: string; name: string } | null = null;
  for (const a of mine) {
    const s = (await api(request, `/api/v1/autonomy/always-on?account_id=${a.id}`)) as { opted_in: boolean; missing: string[] };
    if (!s.opted_in) {
      expect(s.missing).toEqual(["ACCOUNT_NOT_OPTED_IN"]);
      target = a;
      break;
    }
  }
  expect(target, "the seed leaves some of the seller's accounts out").not.toBeNull();
  const account = target as { id: string; name: string };

  await page.context().clearCookies();
  await signIn(page, "seller@demo.test");
  await page.goto(`/accounts/${account.id}`);
  await expect(page.getByRole("heading", { level: 1, name: account.name })).toBeVisible();
  const alwaysOn = card(page, "Always-on autonomy");
  await expect(alwaysOn.getByText("Off", { exact: true })).toBeVisible();
  const toggle = alwaysOn.getByRole("switch", { name: /Opt this account in/ });
  await expect(toggle).toHaveAttribute("aria-checked", "false");
  await toggle.click();
  await expect(alwaysOn.getByRole("status")).toHaveText("This account is opted in to always-on autonomy.");
  await expect(toggle).toHaveAttribute("aria-checked", "true");
  await expect(alwaysOn.getByText("Active", { exact: true })).toBeVisible();
  await shot(page, "always-on-account-seller");
  expect(await api(request, `/api/v1/autonomy/always-on?account_id=${account.id}`)).toMatchObject({
    opted_in: true,
    active: true,
    missing: [],
  });

  // The admin's view: the workspace switch, and each account with what it still lacks, in words.
  await page.context().clearCookies();
  await signIn(page, "admin@demo.test");
  await page.goto("/admin/autonomy#always-on");
  const admin = card(page, "Always-on autonomy");
  await expect(admin.getByRole("switch", { name: "Always-on autonomy for the workspace" })).toHaveAttribute("aria-checked", "true");
  await expect(admin.getByRole("row").filter({ hasText: account.name }).getByText("Always-on")).toBeVisible();
  await expect(admin.getByText(/This account has not opted in/).first()).toBeVisible();
  await admin.scrollIntoViewIfNeeded();
  await shot(page, "always-on-admin");

  // Switching the workspace off asks first.
  await admin.getByRole("switch", { name: "Always-on autonomy for the workspace" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toContainText("Switch always-on off for the workspace?");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toBeHidden();
  await expect(admin.getByRole("switch", { name: "Always-on autonomy for the workspace" })).toHaveAttribute("aria-checked", "true");
});
