-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Execution" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "intentId" TEXT NOT NULL,
    "nonReplayKey" TEXT,
    "approvalSource" TEXT NOT NULL,
    "autoExecuted" BOOLEAN NOT NULL,
    "replayOf" TEXT,
    "replayReason" TEXT,
    "requestedBy" TEXT,
    "status" TEXT NOT NULL,
    "outcome" TEXT,
    "error" TEXT,
    "startedAt" DATETIME NOT NULL,
    "finishedAt" DATETIME,
    "leaseExpiresAt" DATETIME,
    "attempts" INTEGER NOT NULL DEFAULT 1
);
INSERT INTO "new_Execution" ("approvalSource", "autoExecuted", "error", "finishedAt", "id", "intentId", "nonReplayKey", "outcome", "replayOf", "replayReason", "requestedBy", "startedAt", "status", "tenantId") SELECT "approvalSource", "autoExecuted", "error", "finishedAt", "id", "intentId", "nonReplayKey", "outcome", "replayOf", "replayReason", "requestedBy", "startedAt", "status", "tenantId" FROM "Execution";
DROP TABLE "Execution";
ALTER TABLE "new_Execution" RENAME TO "Execution";
CREATE UNIQUE INDEX "Execution_nonReplayKey_key" ON "Execution"("nonReplayKey");
CREATE INDEX "Execution_tenantId_intentId_idx" ON "Execution"("tenantId", "intentId");
CREATE INDEX "Execution_tenantId_startedAt_idx" ON "Execution"("tenantId", "startedAt");
CREATE INDEX "Execution_status_startedAt_idx" ON "Execution"("status", "startedAt");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
