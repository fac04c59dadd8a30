-- AlterTable
ALTER TABLE "ActionIntent" ADD COLUMN "features" TEXT;

-- CreateTable
CREATE TABLE "RankingWeights" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "status" TEXT NOT NULL,
    "featuresVersion" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "provenance" TEXT NOT NULL,
    "createdBy" TEXT,
    "createdAt" DATETIME NOT NULL,
    "promotedAt" DATETIME,
    "retiredAt" DATETIME
);

-- CreateTable
CREATE TABLE "LearningState" (
    "tenantId" TEXT NOT NULL PRIMARY KEY,
    "activeId" TEXT,
    "history" TEXT NOT NULL DEFAULT '[]',
    "revision" INTEGER NOT NULL DEFAULT 0,
    "settings" TEXT NOT NULL DEFAULT '{}',
    "guard" TEXT,
    "updatedBy" TEXT,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "CalibrationRun" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "phase" TEXT,
    "progress" REAL NOT NULL DEFAULT 0,
    "rowsTotal" INTEGER NOT NULL DEFAULT 0,
    "rowsDone" INTEGER NOT NULL DEFAULT 0,
    "seed" INTEGER NOT NULL DEFAULT 0,
    "versionId" TEXT,
    "error" TEXT,
    "actorType" TEXT NOT NULL,
    "actorId" TEXT,
    "createdAt" DATETIME NOT NULL,
    "startedAt" DATETIME,
    "finishedAt" DATETIME
);

-- CreateTable
CREATE TABLE "ShadowEvaluation" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "versionId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "metric" TEXT NOT NULL,
    "windowDays" INTEGER NOT NULL,
    "minSample" INTEGER NOT NULL,
    "threshold" REAL NOT NULL,
    "value" REAL,
    "baselineValue" REAL,
    "sample" INTEGER NOT NULL,
    "passed" BOOLEAN NOT NULL,
    "at" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "NormalizationGap" (
    "tenantId" TEXT NOT NULL,
    "intentId" TEXT NOT NULL,
    "correlationId" TEXT NOT NULL,
    "flaggedAt" DATETIME NOT NULL,
    "resolvedAt" DATETIME,

    PRIMARY KEY ("tenantId", "intentId")
);

-- CreateIndex
CREATE INDEX "RankingWeights_tenantId_status_idx" ON "RankingWeights"("tenantId", "status");

-- CreateIndex
CREATE UNIQUE INDEX "RankingWeights_tenantId_version_key" ON "RankingWeights"("tenantId", "version");

-- CreateIndex
CREATE INDEX "CalibrationRun_tenantId_createdAt_idx" ON "CalibrationRun"("tenantId", "createdAt");

-- CreateIndex
CREATE INDEX "ShadowEvaluation_tenantId_versionId_at_idx" ON "ShadowEvaluation"("tenantId", "versionId", "at");

-- CreateIndex
CREATE INDEX "ShadowEvaluation_tenantId_at_idx" ON "ShadowEvaluation"("tenantId", "at");

-- CreateIndex
CREATE INDEX "NormalizationGap_tenantId_resolvedAt_idx" ON "NormalizationGap"("tenantId", "resolvedAt");

-- CreateIndex
CREATE INDEX "ActionIntent_tenantId_createdAt_idx" ON "ActionIntent"("tenantId", "createdAt");

-- CreateIndex
CREATE INDEX "ActionIntent_tenantId_parentId_idx" ON "ActionIntent"("tenantId", "parentId");

-- CreateIndex
CREATE INDEX "Outcome_tenantId_createdAt_idx" ON "Outcome"("tenantId", "createdAt");
