// Fondation's tables. The first four already exist in the web app's deployment;
// their fields and indexes are kept, and this project only adds optional fields,
// indexes and the jobSteps and jobStepParts tables. Every queue read goes through one of these
// indexes with a bound (take/first), never a scan of the jobs table.
import { defineSchema, defineTable } from "convex/server";
import {
  docFields,
  jobFields,
  jobLogFields,
  jobStepFields,
  jobStepPartFields,
  repositoryFields,
} from "./lib/fields";

export default defineSchema({
  jobs: defineTable(jobFields)
    .index("by_user", ["userId"])
    .index("by_repository", ["repositoryId"])
    .index("by_status_runAt", ["status", "runAt"])
    .index("by_leaseUntil", ["leaseUntil"])
    .index("by_dedupeKey", ["dedupeKey"])
    // Added: held jobs of one bridge, one range per active status.
    .index("by_lockedBy", ["lockedBy", "status"])
    // Added: the live job of a dedupe key in one range per non-final status.
    .index("by_dedupeKey_status", ["dedupeKey", "status"])
    // Added: newest-first listings, and the oldest waiting job.
    .index("by_createdAt", ["createdAt"])
    .index("by_status_createdAt", ["status", "createdAt"]),
  repositories: defineTable(repositoryFields)
    .index("by_user", ["userId"])
    .index("by_user_fullName", ["userId", "fullName"]),
  docs: defineTable(docFields)
    .index("by_job", ["jobId"])
    .index("by_repository", ["repositoryId"])
    .index("by_source_key", ["sourceKey"])
    // Added: upsert of one doc by (jobId, slug).
    .index("by_job_slug", ["jobId", "slug"]),
  jobLogs: defineTable(jobLogFields).index("by_job_seq", ["jobId", "seq"]),
  jobSteps: defineTable(jobStepFields).index("by_job_step", ["jobId", "step"]),
  // Added: the pieces of step artifacts larger than one document.
  jobStepParts: defineTable(jobStepPartFields).index("by_job_step_part", ["jobId", "step", "part"]),
});
