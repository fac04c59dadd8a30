-- AlterTable
ALTER TABLE "ApiKey" ADD COLUMN "signingSecret" TEXT;

-- CreateTable
CREATE TABLE "Signal" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "severity" TEXT NOT NULL,
    "evidence" TEXT NOT NULL DEFAULT '{}',
    "dedupeKey" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "correlationId" TEXT NOT NULL,
    "occurredAt" DATETIME NOT NULL,
    "receivedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "TriggerWindow" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "triggerType" TEXT NOT NULL,
    "openedAt" DATETIME NOT NULL,
    "lastEventAt" DATETIME NOT NULL,
    "events" INTEGER NOT NULL,
    "fireAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "AccountRunState" (
    "tenantId" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "lockedUntil" DATETIME,
    "lockOwner" TEXT,
    "lastRunAt" DATETIME,
    "lastFiredAt" DATETIME,
    "lastSignalSeen" DATETIME,
    "hourKey" TEXT NOT NULL DEFAULT '',
    "runsThisHour" INTEGER NOT NULL DEFAULT 0,

    PRIMARY KEY ("tenantId", "accountId")
);

-- CreateTable
CREATE TABLE "TenantRunState" (
    "tenantId" TEXT NOT NULL PRIMARY KEY,
    "hourKey" TEXT NOT NULL DEFAULT '',
    "runsThisHour" INTEGER NOT NULL DEFAULT 0,
    "dayKey" TEXT NOT NULL DEFAULT '',
    "runsToday" INTEGER NOT NULL DEFAULT 0,
    "tokensToday" INTEGER NOT NULL DEFAULT 0
);

-- CreateTable
CREATE TABLE "DecisionRun" (
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
    "createdAt" DATETIME NOT NULL,
    "updatedAt" DATETIME NOT NULL,
    "finishedAt" DATETIME
);

-- CreateTable
CREATE TABLE "Job" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "payload" TEXT NOT NULL DEFAULT '{}',
    "dedupeKey" TEXT,
    "status" TEXT NOT NULL DEFAULT 'QUEUED',
    "runAt" DATETIME NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "maxAttempts" INTEGER NOT NULL DEFAULT 5,
    "leaseOwner" TEXT,
    "leaseUntil" DATETIME,
    "lastError" TEXT,
    "result" TEXT,
    "createdAt" DATETIME NOT NULL,
    "updatedAt" DATETIME NOT NULL,
    "finishedAt" DATETIME
);

-- CreateTable
CREATE TABLE "TenantQueueState" (
    "tenantId" TEXT NOT NULL PRIMARY KEY,
    "lastServedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "DecisionSettings" (
    "tenantId" TEXT NOT NULL PRIMARY KEY,
    "triggers" TEXT NOT NULL DEFAULT '{}',
    "costGate" TEXT NOT NULL DEFAULT '{}',
    "updatedBy" TEXT,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "RitualCadence" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "accountKey" TEXT NOT NULL DEFAULT '',
    "ritual" TEXT NOT NULL,
    "cron" TEXT NOT NULL,
    "timezone" TEXT NOT NULL DEFAULT 'UTC',
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "lastSlot" DATETIME,
    "updatedBy" TEXT,
    "updatedAt" DATETIME NOT NULL
);

-- CreateIndex
CREATE INDEX "Signal_tenantId_accountId_receivedAt_idx" ON "Signal"("tenantId", "accountId", "receivedAt");

-- CreateIndex
CREATE UNIQUE INDEX "Signal_tenantId_dedupeKey_key" ON "Signal"("tenantId", "dedupeKey");

-- CreateIndex
CREATE INDEX "TriggerWindow_fireAt_idx" ON "TriggerWindow"("fireAt");

-- CreateIndex
CREATE UNIQUE INDEX "TriggerWindow_tenantId_accountId_triggerType_key" ON "TriggerWindow"("tenantId", "accountId", "triggerType");

-- CreateIndex
CREATE INDEX "DecisionRun_tenantId_createdAt_idx" ON "DecisionRun"("tenantId", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "DecisionRun_tenantId_idempotencyKey_key" ON "DecisionRun"("tenantId", "idempotencyKey");

-- CreateIndex
CREATE INDEX "Job_status_runAt_idx" ON "Job"("status", "runAt");

-- CreateIndex
CREATE INDEX "Job_tenantId_status_runAt_idx" ON "Job"("tenantId", "status", "runAt");

-- CreateIndex
CREATE UNIQUE INDEX "Job_tenantId_dedupeKey_key" ON "Job"("tenantId", "dedupeKey");

-- CreateIndex
CREATE UNIQUE INDEX "RitualCadence_tenantId_accountKey_ritual_key" ON "RitualCadence"("tenantId", "accountKey", "ritual");
