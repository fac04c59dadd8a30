-- AlterTable
ALTER TABLE "DecisionRun" ADD COLUMN     "inputSnapshot" TEXT,
ADD COLUMN     "signalIds" TEXT NOT NULL DEFAULT '[]';

-- AlterTable
ALTER TABLE "TriggerWindow" ADD COLUMN     "correlationId" TEXT NOT NULL DEFAULT '',
ADD COLUMN     "signalIds" TEXT NOT NULL DEFAULT '';
