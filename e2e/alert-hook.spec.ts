import { expect, test } from "@playwright/test";
import { shot, shotViewport, signIn } from "./helpers";

/**
 * The alert hook end to end (SPEC §4.6): an admin creates it for one connector, an alert POSTed to
 * the URL turns that switch on with the alert's text, rotating stops the old URL.
 */
test("admin creates and rotates the alert hook; an alert turns the switch on; the old URL stops working", async ({ page, request }) => {
  await signIn(page, "admin@demo.test");
  await page.goto("/admin/kill-switches");
  const hook = page.getByTestId("alert-hook");
  await expect(hook).toBeVisible();

  await hook.getByLabel("Switch to turn on").selectOption("CONNECTOR");
  await hook.getByLabel("Connector").selectOption({ label: "Webhook connector" });
  await hook.getByRole("button", { name: /(Create|Rotate) hook…/ }).click();
  const dialog = page.getByRole("dialog", { name: /(Create|Rotate) the alert hook\?/ });
  await expect(dialog).toContainText("Alerts will turn on: Webhook connector");
  await dialog.getByRole("button", { name: /^(Create|Rotate) hook$/ }).click();
  await expect(dialog).toBeHidden();
  const first = await page.getByLabel(/The hook URL — shown once/).inputValue();
  expect(first).toMatch(/\/api\/v1\/hooks\/kill-switch\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);

  const fired = await request.post(first, { data: { text: "e2e: webhook receiver returns 503" } });
  expect(fired.status()).toBe(200);
  await page.reload();
  const webhook = page.getByTestId("switch-CONNECTOR-webhook");
  await expect(webhook).toContainText("On — paused");
  await expect(webhook).toContainText("e2e: webhook receiver returns 503");
  await expect(page.getByTestId("alert-hook-status")).toContainText(/Turns on: Webhook connector\..*last used/);

  // Rotate: a new URL, and the old one answers 404.
  await hook.getByRole("button", { name: "Rotate hook…" }).click();
  const rotateDialog = page.getByRole("dialog", { name: "Rotate the alert hook?" });
  await expect(rotateDialog).toContainText("stops working at once");
  // The picker starts from the hook's current switch, so a plain rotation keeps it.
  await expect(rotateDialog).toContainText("Alerts will turn on: Webhook connector");
  await shotViewport(page, "alert-hook-rotate-confirm");
  await rotateDialog.getByRole("button", { name: "Rotate hook" }).click();
  await expect(rotateDialog).toBeHidden();
  const second = await page.getByLabel(/The hook URL — shown once/).inputValue();
  expect(second).not.toBe(first);
  expect((await request.post(first, { data: "old" })).status()).toBe(404);
  await shot(page, "alert-hook");

  // Leave the shared demo server as found: the webhook connector running again.
  await webhook.getByRole("button", { name: /Turn off/ }).click();
  const off = page.getByRole("dialog");
  await off.getByRole("textbox").fill("e2e: alert drill over");
  await off.getByRole("button", { name: "Turn off kill switch" }).click();
  await expect(webhook).toContainText("Off — running");
});
