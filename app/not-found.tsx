import Link from "next/link";

export default function NotFound() {
  return (
    <main className="flex min-h-screen items-center justify-center p-6">
      <div className="max-w-md rounded-lg border border-slate-200 bg-white p-8 text-center shadow-sm">
        <h1 className="text-lg font-semibold">Not found</h1>
        <p className="mt-1 text-slate-600">There is nothing here, or it is not visible to you.</p>
        <Link href="/accounts" className="mt-5 inline-block rounded-md bg-brand-600 px-3 py-1.5 font-medium text-white hover:bg-brand-700">
          Back to accounts
        </Link>
      </div>
    </main>
  );
}
