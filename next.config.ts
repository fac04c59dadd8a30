import type { NextConfig } from "next";

const config: NextConfig = {
  // Native and wasm-backed database drivers must be loaded by Node, not bundled.
  serverExternalPackages: ["better-sqlite3", "@prisma/adapter-better-sqlite3", "@prisma/adapter-pg", "pg"],
  poweredByHeader: false,
  // Enables forbidden() → app/forbidden.tsx with a real 403 status.
  experimental: { authInterrupts: true },
};

export default config;
