-- CreateTable
CREATE TABLE "AuditExport" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "requestedBy" TEXT NOT NULL,
    "format" TEXT NOT NULL,
    "schemaVersion" INTEGER NOT NULL,
    "fromAt" TIMESTAMP(3) NOT NULL,
    "toAt" TIMESTAMP(3) NOT NULL,
    "accountId" TEXT,
    "status" TEXT NOT NULL,
    "rowsDone" INTEGER NOT NULL DEFAULT 0,
    "rowsTotal" INTEGER,
    "rowCount" INTEGER,
    "sha256" TEXT,
    "bytes" INTEGER,
    "error" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "AuditExport_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AuditStream" (
    "tenantId" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "secret" TEXT NOT NULL,
    "cursorSeq" INTEGER NOT NULL DEFAULT 0,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "nextAttemptAt" TIMESTAMP(3),
    "lastError" TEXT,
    "lastDeliveredAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "AuditStream_pkey" PRIMARY KEY ("tenantId")
);

-- CreateTable
CREATE TABLE "LedgerDigest" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "headHash" TEXT NOT NULL,
    "keyId" TEXT NOT NULL,
    "signature" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "LedgerDigest_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "MetricsToken" (
    "tenantId" TEXT NOT NULL,
    "tokenHash" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "createdBy" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL,
    "lastUsedAt" TIMESTAMP(3),

    CONSTRAINT "MetricsToken_pkey" PRIMARY KEY ("tenantId")
);

-- CreateTable
CREATE TABLE "PolicyProposal" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "changes" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "createdBy" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL,
    "endedAt" TIMESTAMP(3),
    "endedBy" TEXT,
    "endReason" TEXT,

    CONSTRAINT "PolicyProposal_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "LogOnlyEvaluation" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "proposalId" TEXT NOT NULL,
    "intentId" TEXT NOT NULL,
    "actionType" TEXT NOT NULL,
    "decision" TEXT NOT NULL,
    "reason" TEXT,
    "proposedDecision" TEXT NOT NULL,
    "proposedReason" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "LogOnlyEvaluation_pkey" PRIMARY KEY ("id")
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
