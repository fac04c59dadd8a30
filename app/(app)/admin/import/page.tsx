import { CsvImport } from "@/components/import/csv-import";
import { PageHeader } from "@/components/ui/primitives";
import { requireViewer } from "@/server/auth/page";

export default async function ImportPage() {
  await requireViewer(["ADMIN"]);
  return (
    <>
      <PageHeader
        title="CSV import"
        description="Bring accounts (with their owners), contacts and opportunities in from a spreadsheet. Rows are matched on external_id, so importing a file again is safe."
      />
      <CsvImport />
    </>
  );
}
