-- AlterTable
ALTER TABLE "ActionIntent" ADD COLUMN     "escalatedAt" TIMESTAMP(3),
ADD COLUMN     "escalatedTo" TEXT;

-- CreateTable
CREATE TABLE "AlwaysOnOptIn" (
    "tenantId" TEXT NOT NULL,
    "accountKey" TEXT NOT NULL,
    "enabled" BOOLEAN NOT NULL,
    "updatedBy" TEXT,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "AlwaysOnOptIn_pkey" PRIMARY KEY ("tenantId","accountKey")
);

-- CreateTable
CREATE TABLE "DigestSettings" (
    "tenantId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT false,
    "email" TEXT NOT NULL DEFAULT '',
    "hourLocal" INTEGER NOT NULL DEFAULT 8,
    "timezone" TEXT NOT NULL DEFAULT 'UTC',
    "updatedBy" TEXT,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "DigestSettings_pkey" PRIMARY KEY ("tenantId","userId")
);

-- CreateTable
CREATE TABLE "DigestRun" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "dateKey" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "counts" TEXT NOT NULL DEFAULT '{}',
    "messageId" TEXT,
    "error" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL,
    "sentAt" TIMESTAMP(3),

    CONSTRAINT "DigestRun_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ApprovalSettings" (
    "tenantId" TEXT NOT NULL,
    "ttlHours" INTEGER NOT NULL DEFAULT 72,
    "fallback" TEXT NOT NULL DEFAULT 'REJECT',
    "notifyWebhook" BOOLEAN NOT NULL DEFAULT false,
    "updatedBy" TEXT,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ApprovalSettings_pkey" PRIMARY KEY ("tenantId")
);

-- CreateTable
CREATE TABLE "ApprovalLink" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "intentId" TEXT NOT NULL,
    "purpose" TEXT NOT NULL,
    "recipientUserId" TEXT,
    "usedAt" TIMESTAMP(3),
    "usedDecision" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ApprovalLink_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AlertHook" (
    "tenantId" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "scope" TEXT NOT NULL,
    "key" TEXT NOT NULL DEFAULT '',
    "createdBy" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL,
    "lastUsedAt" TIMESTAMP(3),

    CONSTRAINT "AlertHook_pkey" PRIMARY KEY ("tenantId")
);

-- CreateIndex
CREATE INDEX "DigestRun_tenantId_createdAt_idx" ON "DigestRun"("tenantId", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "DigestRun_tenantId_userId_dateKey_key" ON "DigestRun"("tenantId", "userId", "dateKey");

-- CreateIndex
CREATE INDEX "ApprovalLink_tenantId_intentId_idx" ON "ApprovalLink"("tenantId", "intentId");

-- CreateIndex
CREATE UNIQUE INDEX "AlertHook_id_key" ON "AlertHook"("id");
