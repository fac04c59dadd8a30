import { Shell } from "@/components/shell";
import { requireViewer } from "@/server/auth/page";

export const dynamic = "force-dynamic";

export default async function AppLayout({ children }: { children: React.ReactNode }) {
  const v = await requireViewer();
  return (
    <Shell viewer={{ name: v.user.name, email: v.user.email, role: v.role, tenantName: v.tenant.name, tenantSlug: v.tenant.slug }}>
      {children}
    </Shell>
  );
}
