-- AlterTable
ALTER TABLE "ApiKey" ADD COLUMN     "signingSecret" TEXT;

-- CreateTable
CREATE TABLE "Signal" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "severity" TEXT NOT NULL,
    "evidence" TEXT NOT NULL DEFAULT '{}',
    "dedupeKey" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "correlationId" TEXT NOT NULL,
    "occurredAt" TIMESTAMP(3) NOT NULL,
    "receivedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Signal_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "TriggerWindow" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "triggerType" TEXT NOT NULL,
    "openedAt" TIMESTAMP(3) NOT NULL,
    "lastEventAt" TIMESTAMP(3) NOT NULL,
    "events" INTEGER NOT NULL,
    "fireAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "TriggerWindow_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AccountRunState" (
    "tenantId" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "lockedUntil" TIMESTAMP(3),
    "lockOwner" TEXT,
    "lastRunAt" TIMESTAMP(3),
    "lastFiredAt" TIMESTAMP(3),
    "lastSignalSeen" TIMESTAMP(3),
    "hourKey" TEXT NOT NULL DEFAULT '',
    "runsThisHour" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "AccountRunState_pkey" PRIMARY KEY ("tenantId","accountId")
);

-- CreateTable
CREATE TABLE "TenantRunState" (
    "tenantId" TEXT NOT NULL,
    "hourKey" TEXT NOT NULL DEFAULT '',
    "runsThisHour" INTEGER NOT NULL DEFAULT 0,
    "dayKey" TEXT NOT NULL DEFAULT '',
    "runsToday" INTEGER NOT NULL DEFAULT 0,
    "tokensToday" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "TenantRunState_pkey" PRIMARY KEY ("tenantId")
);

-- CreateTable
CREATE TABLE "DecisionRun" (
    "id" TEXT NOT NULL,
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
    "createdAt" TIMESTAMP(3) NOT NULL,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "DecisionRun_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Job" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "payload" TEXT NOT NULL DEFAULT '{}',
    "dedupeKey" TEXT,
    "status" TEXT NOT NULL DEFAULT 'QUEUED',
    "runAt" TIMESTAMP(3) NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "maxAttempts" INTEGER NOT NULL DEFAULT 5,
    "leaseOwner" TEXT,
    "leaseUntil" TIMESTAMP(3),
    "lastError" TEXT,
    "result" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "Job_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "TenantQueueState" (
    "tenantId" TEXT NOT NULL,
    "lastServedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "TenantQueueState_pkey" PRIMARY KEY ("tenantId")
);

-- CreateTable
CREATE TABLE "DecisionSettings" (
    "tenantId" TEXT NOT NULL,
    "triggers" TEXT NOT NULL DEFAULT '{}',
    "costGate" TEXT NOT NULL DEFAULT '{}',
    "updatedBy" TEXT,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "DecisionSettings_pkey" PRIMARY KEY ("tenantId")
);

-- CreateTable
CREATE TABLE "RitualCadence" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "accountKey" TEXT NOT NULL DEFAULT '',
    "ritual" TEXT NOT NULL,
    "cron" TEXT NOT NULL,
    "timezone" TEXT NOT NULL DEFAULT 'UTC',
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "lastSlot" TIMESTAMP(3),
    "updatedBy" TEXT,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "RitualCadence_pkey" PRIMARY KEY ("id")
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
