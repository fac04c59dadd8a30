/**
 * How Playwright launches Debian's Chromium (never a downloaded browser; `bash
 * scripts/ensure-chromium.sh` installs it): shared by playwright.config.ts and the pages bench
 * (bench/pages.ts), so both drive the same browser the same way.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export const VIEWPORT = { width: 1366, height: 860 };
