-- AlterTable
ALTER TABLE "ActionIntent" ADD COLUMN "escalatedAt" DATETIME;
ALTER TABLE "ActionIntent" ADD COLUMN "escalatedTo" TEXT;

-- CreateTable
CREATE TABLE "AlwaysOnOptIn" (
    "tenantId" TEXT NOT NULL,
    "accountKey" TEXT NOT NULL,
    "enabled" BOOLEAN NOT NULL,
    "updatedBy" TEXT,
    "updatedAt" DATETIME NOT NULL,

    PRIMARY KEY ("tenantId", "accountKey")
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
    "updatedAt" DATETIME NOT NULL,

    PRIMARY KEY ("tenantId", "userId")
);

-- CreateTable
CREATE TABLE "DigestRun" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "dateKey" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "counts" TEXT NOT NULL DEFAULT '{}',
    "messageId" TEXT,
    "error" TEXT,
    "createdAt" DATETIME NOT NULL,
    "sentAt" DATETIME
);

-- CreateTable
CREATE TABLE "ApprovalSettings" (
    "tenantId" TEXT NOT NULL PRIMARY KEY,
    "ttlHours" INTEGER NOT NULL DEFAULT 72,
    "fallback" TEXT NOT NULL DEFAULT 'REJECT',
    "notifyWebhook" BOOLEAN NOT NULL DEFAULT false,
    "updatedBy" TEXT,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "ApprovalLink" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "intentId" TEXT NOT NULL,
    "purpose" TEXT NOT NULL,
    "recipientUserId" TEXT,
    "usedAt" DATETIME,
    "usedDecision" TEXT,
    "createdAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "AlertHook" (
    "tenantId" TEXT NOT NULL PRIMARY KEY,
    "id" TEXT NOT NULL,
    "scope" TEXT NOT NULL,
    "key" TEXT NOT NULL DEFAULT '',
    "createdBy" TEXT,
    "createdAt" DATETIME NOT NULL,
    "lastUsedAt" DATETIME
);

-- CreateIndex
CREATE INDEX "DigestRun_tenantId_createdAt_idx" ON "DigestRun"("tenantId", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "DigestRun_tenantId_userId_dateKey_key" ON "DigestRun"("tenantId", "userId", "dateKey");

-- CreateIndex
CREATE INDEX "ApprovalLink_tenantId_intentId_idx" ON "ApprovalLink"("tenantId", "intentId");

-- CreateIndex
CREATE UNIQUE INDEX "AlertHook_id_key" ON "AlertHook"("id");
