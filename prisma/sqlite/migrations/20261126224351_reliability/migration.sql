-- CreateTable
CREATE TABLE "ConnectorBreaker" (
    "tenantId" TEXT NOT NULL,
    "connector" TEXT NOT NULL,
    "phase" TEXT NOT NULL DEFAULT 'CLOSED',
    "failures" INTEGER NOT NULL DEFAULT 0,
    "windowStart" DATETIME,
    "openedAt" DATETIME,
    "retryAt" DATETIME,
    "probeOwner" TEXT,
    "probeUntil" DATETIME,
    "forcedReason" TEXT,
    "lastError" TEXT,
    "updatedAt" DATETIME NOT NULL,

    PRIMARY KEY ("tenantId", "connector")
);

-- CreateTable
CREATE TABLE "ConnectorSlot" (
    "tenantId" TEXT NOT NULL,
    "connector" TEXT NOT NULL,
    "slot" INTEGER NOT NULL,
    "holder" TEXT,
    "leaseUntil" DATETIME,

    PRIMARY KEY ("tenantId", "connector", "slot")
);

-- CreateTable
CREATE TABLE "ConnectorCallSample" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "connector" TEXT NOT NULL,
    "operation" TEXT NOT NULL,
    "ok" BOOLEAN NOT NULL,
    "outcome" TEXT NOT NULL,
    "durationMs" INTEGER NOT NULL,
    "at" DATETIME NOT NULL
);

-- CreateIndex
CREATE INDEX "ConnectorCallSample_connector_at_idx" ON "ConnectorCallSample"("connector", "at");

-- CreateIndex
CREATE INDEX "ConnectorCallSample_tenantId_connector_at_idx" ON "ConnectorCallSample"("tenantId", "connector", "at");
