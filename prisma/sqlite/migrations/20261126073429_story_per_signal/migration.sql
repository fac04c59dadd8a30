-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_DecisionRun" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "triggerType" TEXT NOT NULL,
    "idempotencyKey" TEXT NOT NULL,
    "correlationId" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "costGateResult" TEXT,
    "reason" TEXT,
    "explanation" TEXT,
    "retryAfterSeconds" INTEGER,
    "deferrals" INTEGER NOT NULL DEFAULT 0,
    "proposals" INTEGER NOT NULL DEFAULT 0,
    "tokens" INTEGER NOT NULL DEFAULT 0,
    "synthesizer" TEXT,
    "signalIds" TEXT NOT NULL DEFAULT '[]',
    "inputSnapshot" TEXT,
    "createdAt" DATETIME NOT NULL,
    "updatedAt" DATETIME NOT NULL,
    "finishedAt" DATETIME
);
INSERT INTO "new_DecisionRun" ("accountId", "correlationId", "costGateResult", "createdAt", "deferrals", "explanation", "finishedAt", "id", "idempotencyKey", "proposals", "reason", "retryAfterSeconds", "status", "synthesizer", "tenantId", "tokens", "triggerType", "updatedAt") SELECT "accountId", "correlationId", "costGateResult", "createdAt", "deferrals", "explanation", "finishedAt", "id", "idempotencyKey", "proposals", "reason", "retryAfterSeconds", "status", "synthesizer", "tenantId", "tokens", "triggerType", "updatedAt" FROM "DecisionRun";
DROP TABLE "DecisionRun";
ALTER TABLE "new_DecisionRun" RENAME TO "DecisionRun";
CREATE INDEX "DecisionRun_tenantId_createdAt_idx" ON "DecisionRun"("tenantId", "createdAt");
CREATE UNIQUE INDEX "DecisionRun_tenantId_idempotencyKey_key" ON "DecisionRun"("tenantId", "idempotencyKey");
CREATE TABLE "new_TriggerWindow" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "triggerType" TEXT NOT NULL,
    "openedAt" DATETIME NOT NULL,
    "lastEventAt" DATETIME NOT NULL,
    "events" INTEGER NOT NULL,
    "fireAt" DATETIME NOT NULL,
    "correlationId" TEXT NOT NULL DEFAULT '',
    "signalIds" TEXT NOT NULL DEFAULT ''
);
INSERT INTO "new_TriggerWindow" ("accountId", "events", "fireAt", "id", "lastEventAt", "openedAt", "tenantId", "triggerType") SELECT "accountId", "events", "fireAt", "id", "lastEventAt", "openedAt", "tenantId", "triggerType" FROM "TriggerWindow";
DROP TABLE "TriggerWindow";
ALTER TABLE "new_TriggerWindow" RENAME TO "TriggerWindow";
CREATE INDEX "TriggerWindow_fireAt_idx" ON "TriggerWindow"("fireAt");
CREATE UNIQUE INDEX "TriggerWindow_tenantId_accountId_triggerType_key" ON "TriggerWindow"("tenantId", "accountId", "triggerType");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
