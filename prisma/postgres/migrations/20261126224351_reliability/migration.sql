-- CreateTable
CREATE TABLE "ConnectorBreaker" (
    "tenantId" TEXT NOT NULL,
    "connector" TEXT NOT NULL,
    "phase" TEXT NOT NULL DEFAULT 'CLOSED',
    "failures" INTEGER NOT NULL DEFAULT 0,
    "windowStart" TIMESTAMP(3),
    "openedAt" TIMESTAMP(3),
    "retryAt" TIMESTAMP(3),
    "probeOwner" TEXT,
    "probeUntil" TIMESTAMP(3),
    "forcedReason" TEXT,
    "lastError" TEXT,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ConnectorBreaker_pkey" PRIMARY KEY ("tenantId","connector")
);

-- CreateTable
CREATE TABLE "ConnectorSlot" (
    "tenantId" TEXT NOT NULL,
    "connector" TEXT NOT NULL,
    "slot" INTEGER NOT NULL,
    "holder" TEXT,
    "leaseUntil" TIMESTAMP(3),

    CONSTRAINT "ConnectorSlot_pkey" PRIMARY KEY ("tenantId","connector","slot")
);

-- CreateTable
CREATE TABLE "ConnectorCallSample" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "connector" TEXT NOT NULL,
    "operation" TEXT NOT NULL,
    "ok" BOOLEAN NOT NULL,
    "outcome" TEXT NOT NULL,
    "durationMs" INTEGER NOT NULL,
    "at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ConnectorCallSample_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "ConnectorCallSample_connector_at_idx" ON "ConnectorCallSample"("connector", "at");

-- CreateIndex
CREATE INDEX "ConnectorCallSample_tenantId_connector_at_idx" ON "ConnectorCallSample"("tenantId", "connector", "at");
