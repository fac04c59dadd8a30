-- CreateIndex
CREATE INDEX "PolicyEvaluation_tenantId_createdAt_idx" ON "PolicyEvaluation"("tenantId", "createdAt");
