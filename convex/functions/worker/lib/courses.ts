// A repository's course, as the web app finds it: jobs.getLatestCompletedByRepository
// answers the repository's latest completed job (the last one created), and the
// course page lists that job's docs. When a job completes, the docs of the
// repository's other completed jobs are removed, as the Node worker did, so a
// repository keeps one course; the latest one is never touched.
import type { Doc, Id } from "../../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../../_generated/server";

// Older completed jobs looked at per pass, newest first: each completion empties
// the one before it, so past the first few every older job is already empty.
const OLDER_JOBS_SCAN = 32;
// Docs deleted per transaction, by count and by characters read (a doc may be
// close to 1 MiB; a transaction reads at most 16 MiB).
export const DOC_DELETE_BUDGET = 64;
export const DOC_CHAR_BUDGET = 4_000_000;

export function latestCompletedJob(
  ctx: QueryCtx,
  repositoryId: Id<"repositories">,
): Promise<Doc<"jobs"> | null> {
  return ctx.db
    .query("jobs")
    .withIndex("by_repository_status", (q) =>
      q.eq("repositoryId", repositoryId).eq("status", "completed"),
    )
    .order("desc")
    .first();
}

// What one transaction may still delete; shared by everything it deletes docs for.
export class DocBudget {
  docs = DOC_DELETE_BUDGET;
  chars = DOC_CHAR_BUDGET;

  get spent(): boolean {
    return this.docs <= 0 || this.chars <= 0;
  }
}

// Deletes docs of one job within the budget; true when the job has none left.
export async function deleteDocsOf(
  ctx: MutationCtx,
  jobId: Id<"jobs">,
  budget: DocBudget,
): Promise<boolean> {
  while (!budget.spent) {
    const docs = await ctx.db
      .query("docs")
      .withIndex("by_job", (q) => q.eq("jobId", jobId))
      .take(Math.min(budget.docs, 16));
    if (docs.length === 0) return true;
    for (const doc of docs) {
      await ctx.db.delete(doc._id);
      budget.docs -= 1;
      budget.chars -= doc.content.length + doc.title.length;
    }
  }
  const left = await ctx.db
    .query("docs")
    .withIndex("by_job", (q) => q.eq("jobId", jobId))
    .first();
  return left === null;
}

// Removes the docs of the repository's completed jobs other than its latest, within
// one transaction's budget. True when nothing is left to remove.
export async function removeOlderCourses(
  ctx: MutationCtx,
  repositoryId: Id<"repositories">,
): Promise<boolean> {
  const completed = await ctx.db
    .query("jobs")
    .withIndex("by_repository_status", (q) =>
      q.eq("repositoryId", repositoryId).eq("status", "completed"),
    )
    .order("desc")
    .take(OLDER_JOBS_SCAN + 1);
  const budget = new DocBudget();
  for (const job of completed.slice(1)) {
    if (!(await deleteDocsOf(ctx, job._id, budget))) return false;
  }
  return true;
}
