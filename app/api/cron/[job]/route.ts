import { handleCron } from "@/server/http/cron";

export const dynamic = "force-dynamic";

export async function GET(req: Request, { params }: { params: Promise<{ job: string }> }) {
  return handleCron(req, (await params).job, process.env.CRON_SECRET);
}
