"use client";

import { createAuthClient } from "better-auth/react";

/** Same-origin client: the base URL is wherever the page was served from. */
export const authClient = createAuthClient();
