import { Radar } from "lucide-react";
import { SignInForm } from "./sign-in-form";

export const dynamic = "force-dynamic";

export default function SignInPage() {
  return (
    <main className="flex min-h-screen items-center justify-center bg-slate-100 p-6">
      <div className="w-full max-w-sm">
        <div className="mb-6 flex items-center justify-center gap-2">
          <Radar className="size-7 text-brand-600" aria-hidden />
          <span className="text-lg font-semibold">Autopilot Control Center</span>
        </div>
        <div className="rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
          <h1 className="mb-4 text-base font-semibold">Sign in</h1>
          <SignInForm />
        </div>
        <p className="mt-4 text-center text-xs text-slate-600">
          Demo: admin@demo.test, seller@demo.test or auditor@demo.test — the password is printed by <code>npm start</code>.
        </p>
      </div>
    </main>
  );
}
