-- AlterTable
ALTER TABLE "Account" DROP COLUMN "heatScore",
DROP COLUMN "heatTier",
ADD COLUMN     "crmModifiedAt" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "Contact" ADD COLUMN     "externalId" TEXT,
ADD COLUMN     "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- AlterTable
ALTER TABLE "Opportunity" ADD COLUMN     "externalId" TEXT;

-- CreateTable
CREATE TABLE "AccountHeat" (
    "tenantId" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "score" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "tier" TEXT NOT NULL DEFAULT 'COLD',
    "since" TIMESTAMP(3) NOT NULL,
    "mass" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "recent" TEXT NOT NULL DEFAULT '[]',
    "pendingTier" TEXT,
    "pendingSince" TIMESTAMP(3),
    "computedAt" TIMESTAMP(3),
    "dirtyAt" TIMESTAMP(3),
    "recheckAt" TIMESTAMP(3),

    CONSTRAINT "AccountHeat_pkey" PRIMARY KEY ("tenantId","accountId")
);

-- CreateTable
CREATE TABLE "HeatRollup" (
    "tenantId" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "day" TEXT NOT NULL,
    "maxScore" DOUBLE PRECISION NOT NULL,
    "lastScore" DOUBLE PRECISION NOT NULL,
    "tier" TEXT NOT NULL,

    CONSTRAINT "HeatRollup_pkey" PRIMARY KEY ("tenantId","accountId","day")
);

-- CreateTable
CREATE TABLE "PerceptionSettings" (
    "tenantId" TEXT NOT NULL,
    "unitsPerDay" INTEGER NOT NULL DEFAULT 500,
    "perConnector" TEXT NOT NULL DEFAULT '{}',
    "cadence" TEXT NOT NULL DEFAULT '{}',
    "updatedBy" TEXT,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "PerceptionSettings_pkey" PRIMARY KEY ("tenantId")
);

-- CreateTable
CREATE TABLE "PullUsage" (
    "tenantId" TEXT NOT NULL,
    "dateKey" TEXT NOT NULL,
    "connector" TEXT NOT NULL,
    "units" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "PullUsage_pkey" PRIMARY KEY ("tenantId","dateKey","connector")
);

-- CreateTable
CREATE TABLE "RateWindow" (
    "key" TEXT NOT NULL,
    "window" INTEGER NOT NULL,
    "count" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "RateWindow_pkey" PRIMARY KEY ("key","window")
);

-- CreateTable
CREATE TABLE "PullJob" (
    "id" TEXT NOT NULL,
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
    "createdAt" TIMESTAMP(3) NOT NULL,
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "PullJob_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AccountPullState" (
    "tenantId" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "lastShallowAt" TIMESTAMP(3),
    "lastDeepAt" TIMESTAMP(3),
    "nextShallowAt" TIMESTAMP(3),
    "nextDeepAt" TIMESTAMP(3),

    CONSTRAINT "AccountPullState_pkey" PRIMARY KEY ("tenantId","accountId")
);

-- CreateTable
CREATE TABLE "ConnectorState" (
    "tenantId" TEXT NOT NULL,
    "connector" TEXT NOT NULL,
    "cursor" TEXT,
    "lastSyncAt" TIMESTAMP(3),
    "lastStatus" TEXT,
    "lastError" TEXT,
    "lastCounts" TEXT NOT NULL DEFAULT '{}',
    "blockedUntil" TIMESTAMP(3),
    "remaining" INTEGER,
    "windowEndsAt" TIMESTAMP(3),
    "throttles" INTEGER NOT NULL DEFAULT 0,
    "lastThrottleAt" TIMESTAMP(3),
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ConnectorState_pkey" PRIMARY KEY ("tenantId","connector")
);

-- CreateTable
CREATE TABLE "ImportJob" (
    "id" TEXT NOT NULL,
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
    "createdAt" TIMESTAMP(3) NOT NULL,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "ImportJob_pkey" PRIMARY KEY ("id")
);

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
CREATE UNIQUE INDEX "Contact_tenantId_externalId_key" ON "Contact"("tenantId", "externalId");

-- CreateIndex
CREATE UNIQUE INDEX "Opportunity_tenantId_externalId_key" ON "Opportunity"("tenantId", "externalId");
