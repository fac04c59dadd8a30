-- CreateTable
CREATE TABLE "AuditExport" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "requestedBy" TEXT NOT NULL,
    "format" TEXT NOT NULL,
    "schemaVersion" INTEGER NOT NULL,
    "fromAt" DATETIME NOT NULL,
    "toAt" DATETIME NOT NULL,
    "accountId" TEXT,
    "status" TEXT NOT NULL,
    "rowsDone" INTEGER NOT NULL DEFAULT 0,
    "rowsTotal" INTEGER,
    "rowCount" INTEGER,
    "sha256" TEXT,
    "bytes" INTEGER,
    "error" TEXT,
    "createdAt" DATETIME NOT NULL,
    "startedAt" DATETIME,
    "finishedAt" DATETIME
);

-- CreateTable
CREATE TABLE "AuditStream" (
    "tenantId" TEXT NOT NULL PRIMARY KEY,
    "url" TEXT NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "secret" TEXT NOT NULL,
    "cursorSeq" INTEGER NOT NULL DEFAULT 0,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "nextAttemptAt" DATETIME,
    "lastError" TEXT,
    "lastDeliveredAt" DATETIME,
    "createdAt" DATETIME NOT NULL,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "LedgerDigest" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "headHash" TEXT NOT NULL,
    "keyId" TEXT NOT NULL,
    "signature" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "MetricsToken" (
    "tenantId" TEXT NOT NULL PRIMARY KEY,
    "tokenHash" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "createdBy" TEXT,
    "createdAt" DATETIME NOT NULL,
    "lastUsedAt" DATETIME
);

-- CreateTable
CREATE TABLE "PolicyProposal" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "changes" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "createdBy" TEXT,
    "createdAt" DATETIME NOT NULL,
    "endedAt" DATETIME,
    "endedBy" TEXT,
    "endReason" TEXT
);

-- CreateTable
CREATE TABLE "LogOnlyEvaluation" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "proposalId" TEXT NOT NULL,
    "intentId" TEXT NOT NULL,
    "actionType" TEXT NOT NULL,
    "decision" TEXT NOT NULL,
    "reason" TEXT,
    "proposedDecision" TEXT NOT NULL,
    "proposedReason" TEXT,
    "createdAt" DATETIME NOT NULL
);

-- CreateIndex
CREATE INDEX "AuditExport_tenantId_createdAt_idx" ON "AuditExport"("tenantId", "createdAt");

-- CreateIndex
CREATE INDEX "AuditExport_status_createdAt_idx" ON "AuditExport"("status", "createdAt");

-- CreateIndex
CREATE INDEX "LedgerDigest_tenantId_createdAt_idx" ON "LedgerDigest"("tenantId", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "LedgerDigest_tenantId_seq_key" ON "LedgerDigest"("tenantId", "seq");

-- CreateIndex
CREATE UNIQUE INDEX "MetricsToken_tokenHash_key" ON "MetricsToken"("tokenHash");

-- CreateIndex
CREATE INDEX "PolicyProposal_tenantId_status_idx" ON "PolicyProposal"("tenantId", "status");

-- CreateIndex
CREATE INDEX "LogOnlyEvaluation_tenantId_proposalId_createdAt_idx" ON "LogOnlyEvaluation"("tenantId", "proposalId", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "LogOnlyEvaluation_proposalId_intentId_key" ON "LogOnlyEvaluation"("proposalId", "intentId");
