-- AlterTable
ALTER TABLE "ActionIntent" ADD COLUMN "requestHash" TEXT;
