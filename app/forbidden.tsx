import { ShieldAlert } from "lucide-react";
import Link from "next/link";

export default function Forbidden() {
  return (
    <main className="flex min-h-screen items-center justify-center p-6">
      <div className="max-w-md rounded-lg border border-slate-200 bg-white p-8 text-center shadow-sm">
        <ShieldAlert className="mx-auto size-10 text-amber-600" aria-hidden />
        <h1 className="mt-3 text-lg font-semibold">You don't have access to this page</h1>
        <p className="mt-1 text-slate-600">Your role in this workspace doesn't include it. Ask a workspace admin if you need access.</p>
        <p className="mt-1 text-xs text-slate-500">403 Forbidden</p>
        <Link href="/accounts" className="mt-5 inline-block rounded-md bg-brand-600 px-3 py-1.5 font-medium text-white hover:bg-brand-700">
          Back to accounts
        </Link>
      </div>
    </main>
  );
}
