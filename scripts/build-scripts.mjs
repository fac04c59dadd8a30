/**
 * Second half of `npm run build` (after `next build`): the run-time scripts compiled to plain
 * JavaScript in dist/, so production needs no TypeScript loader — `npm start` runs
 * `node dist/start.js`; `node dist/worker.js`, `node dist/scheduler.js` and `node dist/cli.js`
 * are the compiled twins of `npm run worker|scheduler|cli` (which run the sources through tsx,
 * for development, and need no build). The app's own code is bundled in; packages stay in
 * node_modules (native drivers, Next itself), as test/integration/crash-trials.test.ts bundles
 * its app process. Plain .mjs so it runs before anything is compiled.
 */
import { rmSync } from "node:fs";
import { build } from "esbuild";

rmSync("dist", { recursive: true, force: true });
await build({
  entryPoints: { start: "scripts/start.ts", scheduler: "scripts/scheduler.ts", worker: "scripts/worker.ts", cli: "scripts/cli.ts" },
  outdir: "dist",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  logLevel: "warning",
});
console.log("dist/: start.js, scheduler.js, worker.js, cli.js");
