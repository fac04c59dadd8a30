import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { expect, test } from "@playwright/test";
import { shot, signIn } from "./helpers";

/**
 * The monitoring page end to end (SPEC §4.8): an admin points the SIEM stream at a receiver, the
 * secret is shown once, "Send now" delivers the ledger signed and in order, the status says caught
 * up; a metrics token is created once and scrapes Prometheus text.
 */
test("admin sets up the SIEM stream and a metrics token", async ({ page, request }) => {
  const got: { raw: string; ts: string; sig: string }[] = [];
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      got.push({
        raw: Buffer.concat(chunks).toString("utf8"),
        ts: String(req.headers["x-autopilot-timestamp"]),
        sig: String(req.headers["x-autopilot-signature"]),
      });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/siem`;
  try {
    await signIn(page, "admin@demo.test");
    await page.goto("/admin/monitoring");
    const stream = page.getByTestId("audit-stream");
    await expect(stream).toBeVisible();

    // A bad URL is refused in the form, naming the field.
    await stream.getByLabel("Receiver URL").fill("ftp://nope");
    await stream.getByRole("button", { name: /(Create|Save) stream/ }).click();
    await expect(stream.getByText("Enter an http:// or https:// URL")).toBeVisible();

    await stream.getByLabel("Receiver URL").fill(url);
    await stream.getByLabel("Enabled").check();
    const rotate = stream.getByLabel("Rotate the signing secret");
    if (await rotate.isVisible()) await rotate.check();
    await stream.getByRole("button", { name: /(Create|Save) stream/ }).click();
    const secret = await page.getByRole("textbox", { name: /Signing secret — shown once/ }).inputValue();
    expect(secret).toMatch(/^whsec_/);

    await page.getByRole("button", { name: "Send now" }).click();
    await expect(page.getByTestId("audit-stream-notice")).toContainText(/Sent \d+ entr/);
    await expect(page.getByTestId("audit-stream-lag")).toContainText(/^0 entries$/);
    await expect(page.getByTestId("audit-stream-status")).toContainText("Caught up");

    // Every request verifies with the documented recipe; the seqs run 1, 2, 3, … in order.
    expect(got.length).toBeGreaterThan(0);
    const seqs: number[] = [];
    for (const r of got) {
      const expected = `sha256=${createHmac("sha256", secret).update(`${r.ts}.${r.raw}`).digest("hex")}`;
      expect(r.sig).toBe(expected);
      const body = JSON.parse(r.raw) as { tenant: string; entries: { seq: number }[] };
      expect(body.tenant).toBe("demo");
      seqs.push(...body.entries.map((e) => e.seq));
    }
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));

    // The metrics token: created once, scrapes Prometheus text.
    await page.getByRole("button", { name: /(Create|Rotate) token…/ }).click();
    const dialog = page.getByRole("dialog", { name: /(Create|Rotate) (a|the) metrics token\?/ });
    await dialog.getByRole("button", { name: /^(Create|Rotate) token$/ }).click();
    await expect(dialog).toBeHidden();
    const token = await page.getByRole("textbox", { name: /Metrics token — shown once/ }).inputValue();
    const scrape = await request.get("/api/metrics", { headers: { authorization: `Bearer ${token}` } });
    expect(scrape.status()).toBe(200);
    expect(await scrape.text()).toContain("# TYPE autopilot_connector_call_duration_seconds histogram");
    expect((await request.get("/api/metrics")).status()).toBe(401);
    await expect(page.getByTestId("metrics-token-status")).toContainText(/Token mt_\w{8}_… created/);
    await shot(page, "monitoring");

    // Leave the shared demo server as found: the receiver goes away, so the stream is switched off.
    await stream.getByLabel("Enabled").uncheck();
    await stream.getByRole("button", { name: "Save stream" }).click();
    await expect(page.getByTestId("audit-stream-status")).toContainText("Disabled");
  } finally {
    await new Promise((r) => receiver.close(r));
  }
});
