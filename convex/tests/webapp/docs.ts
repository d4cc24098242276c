// The course page's read of a job's docs (a test model): creation order.
import { v } from "convex/values";
import { query } from "../../functions/_generated/server";

export const listByJobId = query({
  args: { jobId: v.id("jobs") },
  handler: async (ctx, args) =>
    ctx.db
      .query("docs")
      .withIndex("by_job", (q) => q.eq("jobId", args.jobId))
      .order("asc")
      .collect(),
});
