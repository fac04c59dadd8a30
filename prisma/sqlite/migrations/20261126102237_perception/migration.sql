-- AlterTable
ALTER TABLE "Opportunity" ADD COLUMN "externalId" TEXT;

-- CreateTable
CREATE TABLE "AccountHeat" (
    "tenantId" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "score" REAL NOT NULL DEFAULT 0,
    "tier" TEXT NOT NULL DEFAULT 'COLD',
    "since" DATETIME NOT NULL,
    "mass" REAL NOT NULL DEFAULT 0,
    "recent" TEXT NOT NULL DEFAULT '[]',
    "pendingTier" TEXT,
    "pendingSince" DATETIME,
    "computedAt" DATETIME,
    "dirtyAt" DATETIME,
    "recheckAt" DATETIME,

    PRIMARY KEY ("tenantId", "accountId")
);

-- CreateTable
CREATE TABLE "HeatRollup" (
    "tenantId" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "day" TEXT NOT NULL,
    "maxScore" REAL NOT NULL,
    "lastScore" REAL NOT NULL,
    "tier" TEXT NOT NULL,

    PRIMARY KEY ("tenantId", "accountId", "day")
);

-- CreateTable
CREATE TABLE "PerceptionSettings" (
    "tenantId" TEXT NOT NULL PRIMARY KEY,
    "unitsPerDay" INTEGER NOT NULL DEFAULT 500,
    "perConnector" TEXT NOT NULL DEFAULT '{}',
    "cadence" TEXT NOT NULL DEFAULT '{}',
    "updatedBy" TEXT,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "PullUsage" (
    "tenantId" TEXT NOT NULL,
    "dateKey" TEXT NOT NULL,
    "connector" TEXT NOT NULL,
    "units" INTEGER NOT NULL DEFAULT 0,

    PRIMARY KEY ("tenantId", "dateKey", "connector")
);

-- CreateTable
CREATE TABLE "RateWindow" (
    "key" TEXT NOT NULL,
    "window" INTEGER NOT NULL,
    "count" INTEGER NOT NULL DEFAULT 0,

    PRIMARY KEY ("key", "window")
);

-- CreateTable
CREATE TABLE "PullJob" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "pullJobId" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "connector" TEXT NOT NULL,
    "depth" TEXT NOT NULL,
    "tier" TEXT NOT NULL,
    "units" INTEGER NOT NULL DEFAULT 0,
    "result" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "signals" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "createdAt" DATETIME NOT NULL,
    "finishedAt" DATETIME
);

-- CreateTable
CREATE TABLE "AccountPullState" (
    "tenantId" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "lastShallowAt" DATETIME,
    "lastDeepAt" DATETIME,
    "nextShallowAt" DATETIME,
    "nextDeepAt" DATETIME,

    PRIMARY KEY ("tenantId", "accountId")
);

-- CreateTable
CREATE TABLE "ConnectorState" (
    "tenantId" TEXT NOT NULL,
    "connector" TEXT NOT NULL,
    "cursor" TEXT,
    "lastSyncAt" DATETIME,
    "lastStatus" TEXT,
    "lastError" TEXT,
    "lastCounts" TEXT NOT NULL DEFAULT '{}',
    "blockedUntil" DATETIME,
    "remaining" INTEGER,
    "windowEndsAt" DATETIME,
    "throttles" INTEGER NOT NULL DEFAULT 0,
    "lastThrottleAt" DATETIME,
    "updatedAt" DATETIME NOT NULL,

    PRIMARY KEY ("tenantId", "connector")
);

-- CreateTable
CREATE TABLE "ImportJob" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "fileName" TEXT,
    "csv" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "rowsTotal" INTEGER NOT NULL DEFAULT 0,
    "rowsDone" INTEGER NOT NULL DEFAULT 0,
    "created" INTEGER NOT NULL DEFAULT 0,
    "updated" INTEGER NOT NULL DEFAULT 0,
    "errors" TEXT NOT NULL DEFAULT '[]',
    "errorCount" INTEGER NOT NULL DEFAULT 0,
    "actorType" TEXT NOT NULL,
    "actorId" TEXT,
    "createdAt" DATETIME NOT NULL,
    "updatedAt" DATETIME NOT NULL,
    "finishedAt" DATETIME
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Account" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "externalId" TEXT,
    "name" TEXT NOT NULL,
    "domain" TEXT,
    "industry" TEXT,
    "ownerId" TEXT,
    "lifecycle" TEXT NOT NULL DEFAULT 'PROSPECT',
    "posture" TEXT NOT NULL DEFAULT 'OK',
    "momentum" TEXT NOT NULL DEFAULT 'FLAT',
    "arrCents" INTEGER NOT NULL DEFAULT 0,
    "crmModifiedAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Account_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "Account_ownerId_fkey" FOREIGN KEY ("ownerId") REFERENCES "User" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
INSERT INTO "new_Account" ("arrCents", "createdAt", "domain", "externalId", "id", "industry", "lifecycle", "momentum", "name", "ownerId", "posture", "tenantId", "updatedAt") SELECT "arrCents", "createdAt", "domain", "externalId", "id", "industry", "lifecycle", "momentum", "name", "ownerId", "posture", "tenantId", "updatedAt" FROM "Account";
DROP TABLE "Account";
ALTER TABLE "new_Account" RENAME TO "Account";
CREATE INDEX "Account_tenantId_createdAt_idx" ON "Account"("tenantId", "createdAt");
CREATE INDEX "Account_tenantId_ownerId_idx" ON "Account"("tenantId", "ownerId");
CREATE UNIQUE INDEX "Account_tenantId_externalId_key" ON "Account"("tenantId", "externalId");
CREATE TABLE "new_Contact" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "externalId" TEXT,
    "name" TEXT NOT NULL,
    "email" TEXT,
    "title" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Contact_accountId_fkey" FOREIGN KEY ("accountId") REFERENCES "Account" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_Contact" ("accountId", "createdAt", "email", "id", "name", "tenantId", "title") SELECT "accountId", "createdAt", "email", "id", "name", "tenantId", "title" FROM "Contact";
DROP TABLE "Contact";
ALTER TABLE "new_Contact" RENAME TO "Contact";
CREATE INDEX "Contact_tenantId_accountId_idx" ON "Contact"("tenantId", "accountId");
CREATE UNIQUE INDEX "Contact_tenantId_externalId_key" ON "Contact"("tenantId", "externalId");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE INDEX "AccountHeat_dirtyAt_idx" ON "AccountHeat"("dirtyAt");

-- CreateIndex
CREATE INDEX "AccountHeat_recheckAt_idx" ON "AccountHeat"("recheckAt");

-- CreateIndex
CREATE INDEX "AccountHeat_tenantId_score_idx" ON "AccountHeat"("tenantId", "score");

-- CreateIndex
CREATE INDEX "PullJob_tenantId_createdAt_idx" ON "PullJob"("tenantId", "createdAt");

-- CreateIndex
CREATE INDEX "PullJob_tenantId_accountId_createdAt_idx" ON "PullJob"("tenantId", "accountId", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "PullJob_tenantId_pullJobId_key" ON "PullJob"("tenantId", "pullJobId");

-- CreateIndex
CREATE INDEX "AccountPullState_nextShallowAt_idx" ON "AccountPullState"("nextShallowAt");

-- CreateIndex
CREATE INDEX "AccountPullState_nextDeepAt_idx" ON "AccountPullState"("nextDeepAt");

-- CreateIndex
CREATE INDEX "ImportJob_tenantId_createdAt_idx" ON "ImportJob"("tenantId", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "Opportunity_tenantId_externalId_key" ON "Opportunity"("tenantId", "externalId");
