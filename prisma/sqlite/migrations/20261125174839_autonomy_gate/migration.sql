-- CreateTable
CREATE TABLE "AutonomyConfig" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "accountKey" TEXT NOT NULL DEFAULT '',
    "actionType" TEXT NOT NULL DEFAULT '',
    "mode" TEXT NOT NULL,
    "updatedBy" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "AllowlistEntry" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "accountKey" TEXT NOT NULL DEFAULT '',
    "actionType" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "TenantPolicy" (
    "tenantId" TEXT NOT NULL PRIMARY KEY,
    "minConfidence" REAL NOT NULL DEFAULT 0.75,
    "prospectMinConfidence" REAL NOT NULL DEFAULT 0.85,
    "version" INTEGER NOT NULL DEFAULT 1,
    "updatedBy" TEXT,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "AutonomyBudget" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "accountKey" TEXT NOT NULL DEFAULT '',
    "maxPerDay" INTEGER NOT NULL,
    "perTypeCaps" TEXT NOT NULL DEFAULT '{}',
    "decayIfUnused" BOOLEAN NOT NULL DEFAULT false,
    "updatedBy" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "BudgetUsage" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "dateKey" TEXT NOT NULL,
    "actionType" TEXT NOT NULL DEFAULT '',
    "consumed" INTEGER NOT NULL DEFAULT 0
);

-- CreateTable
CREATE TABLE "KillSwitch" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "scope" TEXT NOT NULL,
    "key" TEXT NOT NULL DEFAULT '',
    "enabled" BOOLEAN NOT NULL,
    "reason" TEXT NOT NULL,
    "updatedBy" TEXT,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "ActionIntent" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "correlationId" TEXT NOT NULL,
    "actionType" TEXT NOT NULL,
    "target" TEXT NOT NULL DEFAULT '{}',
    "parameters" TEXT NOT NULL DEFAULT '{}',
    "why" TEXT NOT NULL DEFAULT '[]',
    "confidence" REAL NOT NULL,
    "riskLevel" TEXT NOT NULL,
    "blockingUnknowns" TEXT NOT NULL DEFAULT '[]',
    "rankScore" REAL NOT NULL DEFAULT 0,
    "status" TEXT NOT NULL,
    "version" INTEGER NOT NULL DEFAULT 1,
    "parentId" TEXT,
    "source" TEXT NOT NULL,
    "idempotencyKey" TEXT,
    "decision" TEXT,
    "reason" TEXT,
    "explanation" TEXT,
    "policyVersion" TEXT,
    "policyClause" TEXT,
    "createdBy" TEXT,
    "createdAt" DATETIME NOT NULL,
    "decidedAt" DATETIME,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "PolicyEvaluation" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "intentId" TEXT NOT NULL,
    "decision" TEXT NOT NULL,
    "reason" TEXT,
    "explanation" TEXT NOT NULL,
    "policyVersion" TEXT NOT NULL,
    "clauses" TEXT NOT NULL,
    "input" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "IntentReview" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "intentId" TEXT NOT NULL,
    "newIntentId" TEXT,
    "decision" TEXT NOT NULL,
    "reason" TEXT,
    "diff" TEXT,
    "actorType" TEXT NOT NULL,
    "actorId" TEXT,
    "createdAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "Execution" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "intentId" TEXT NOT NULL,
    "nonReplayKey" TEXT,
    "approvalSource" TEXT NOT NULL,
    "autoExecuted" BOOLEAN NOT NULL,
    "replayOf" TEXT,
    "replayReason" TEXT,
    "requestedBy" TEXT,
    "status" TEXT NOT NULL,
    "outcome" TEXT,
    "error" TEXT,
    "startedAt" DATETIME NOT NULL,
    "finishedAt" DATETIME
);

-- CreateTable
CREATE TABLE "ToolCall" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "executionId" TEXT NOT NULL,
    "connector" TEXT NOT NULL,
    "operation" TEXT NOT NULL,
    "idempotencyKey" TEXT NOT NULL,
    "request" TEXT NOT NULL,
    "response" TEXT,
    "status" TEXT NOT NULL,
    "error" TEXT,
    "startedAt" DATETIME NOT NULL,
    "finishedAt" DATETIME
);

-- CreateTable
CREATE TABLE "InternalArtifact" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "accountId" TEXT NOT NULL,
    "executionId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "Outcome" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "intentId" TEXT NOT NULL,
    "executionId" TEXT,
    "label" TEXT NOT NULL,
    "details" TEXT NOT NULL DEFAULT '{}',
    "createdAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "ConnectorConfig" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "config" TEXT NOT NULL DEFAULT '{}',
    "secret" TEXT,
    "updatedAt" DATETIME NOT NULL
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Tenant" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "slug" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "configVersion" INTEGER NOT NULL DEFAULT 0,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO "new_Tenant" ("createdAt", "id", "name", "slug") SELECT "createdAt", "id", "name", "slug" FROM "Tenant";
DROP TABLE "Tenant";
ALTER TABLE "new_Tenant" RENAME TO "Tenant";
CREATE UNIQUE INDEX "Tenant_slug_key" ON "Tenant"("slug");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE UNIQUE INDEX "AutonomyConfig_tenantId_accountKey_actionType_key" ON "AutonomyConfig"("tenantId", "accountKey", "actionType");

-- CreateIndex
CREATE UNIQUE INDEX "AllowlistEntry_tenantId_accountKey_actionType_key" ON "AllowlistEntry"("tenantId", "accountKey", "actionType");

-- CreateIndex
CREATE UNIQUE INDEX "AutonomyBudget_tenantId_accountKey_key" ON "AutonomyBudget"("tenantId", "accountKey");

-- CreateIndex
CREATE UNIQUE INDEX "BudgetUsage_tenantId_accountId_dateKey_actionType_key" ON "BudgetUsage"("tenantId", "accountId", "dateKey", "actionType");

-- CreateIndex
CREATE UNIQUE INDEX "KillSwitch_tenantId_scope_key_key" ON "KillSwitch"("tenantId", "scope", "key");

-- CreateIndex
CREATE INDEX "ActionIntent_tenantId_status_createdAt_idx" ON "ActionIntent"("tenantId", "status", "createdAt");

-- CreateIndex
CREATE INDEX "ActionIntent_tenantId_accountId_createdAt_idx" ON "ActionIntent"("tenantId", "accountId", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "ActionIntent_tenantId_idempotencyKey_key" ON "ActionIntent"("tenantId", "idempotencyKey");

-- CreateIndex
CREATE INDEX "PolicyEvaluation_tenantId_intentId_idx" ON "PolicyEvaluation"("tenantId", "intentId");

-- CreateIndex
CREATE INDEX "IntentReview_tenantId_intentId_idx" ON "IntentReview"("tenantId", "intentId");

-- CreateIndex
CREATE UNIQUE INDEX "Execution_nonReplayKey_key" ON "Execution"("nonReplayKey");

-- CreateIndex
CREATE INDEX "Execution_tenantId_intentId_idx" ON "Execution"("tenantId", "intentId");

-- CreateIndex
CREATE INDEX "Execution_tenantId_startedAt_idx" ON "Execution"("tenantId", "startedAt");

-- CreateIndex
CREATE UNIQUE INDEX "ToolCall_idempotencyKey_key" ON "ToolCall"("idempotencyKey");

-- CreateIndex
CREATE INDEX "ToolCall_tenantId_executionId_idx" ON "ToolCall"("tenantId", "executionId");

-- CreateIndex
CREATE INDEX "InternalArtifact_tenantId_accountId_createdAt_idx" ON "InternalArtifact"("tenantId", "accountId", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "InternalArtifact_executionId_kind_key" ON "InternalArtifact"("executionId", "kind");

-- CreateIndex
CREATE INDEX "Outcome_tenantId_intentId_idx" ON "Outcome"("tenantId", "intentId");

-- CreateIndex
CREATE UNIQUE INDEX "ConnectorConfig_tenantId_kind_key" ON "ConnectorConfig"("tenantId", "kind");
