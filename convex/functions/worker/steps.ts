// The workers' side: step records (so a retried job resumes where it stopped),
// job logs, and the docs a run produces.
import { paginationOptsValidator } from "convex/server";
import { type ObjectType, v } from "convex/values";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";
import { cancelRequested, invalid } from "./lib/errors";
import {
  docDoc,
  docKind,
  jobDoc,
  jobLogDoc,
  jobStepDoc,
  jobStepStateDoc,
  logLevel,
  repositoryDoc,
  reuseKey,
  reuseRecord,
} from "./lib/fields";
import { type Call, workerMutation, workerQuery } from "./lib/functions";
import {
  ANALYSIS_STEPS,
  FINALIZE_STEP,
  MAX_ARTIFACT_PARTS,
  MAX_DOCS_PER_CALL,
  MAX_LOG_PAGE,
  appendLogLine,
  clampLimit,
  fenced,
  findRepository,
  jobIdOf,
  loadJob,
  stepName,
  stepStatus,
  stepsOf,
} from "./lib/jobs";
import { chaptersReadyProgress, stepLogLine, stepProgress } from "./lib/progress";
import { findReuseRecords } from "./lib/reuse";

// Pieces per getArtifactParts answer: about 4 MiB, well inside a query's read limit.
const PARTS_PER_READ = 4;

function partCount(parts: number): number {
  if (!Number.isInteger(parts) || parts < 1 || parts > MAX_ARTIFACT_PARTS) {
    throw invalid(`an artifact has 1 to ${MAX_ARTIFACT_PARTS} parts, not ${parts}`);
  }
  return parts;
}

const stepStartArgs = {
  jobId: v.string(),
  token: v.string(),
  step: v.number(),
  worker: v.string(),
};

type StepStartArgs = ObjectType<typeof stepStartArgs>;

// Records that a step starts and returns its record and the job as they now are.
// A completed step is returned as it is, with the job untouched: the caller skips it.
async function recordStart(
  ctx: MutationCtx,
  args: StepStartArgs,
  { now, language }: Call,
): Promise<{ step: Doc<"jobSteps">; job: Doc<"jobs"> }> {
  const name = stepName(args.step);
  const job = await fenced(ctx, args.jobId, args.token);
  if (job.cancelRequested) throw cancelRequested(job._id);
  const existing = await ctx.db
    .query("jobSteps")
    .withIndex("by_job_step", (q) => q.eq("jobId", job._id).eq("step", args.step))
    .unique();
  if (existing?.status === "completed") return { step: existing, job };
  let stepId;
  if (existing === null) {
    stepId = await ctx.db.insert("jobSteps", {
      jobId: job._id,
      step: args.step,
      name,
      status: "started",
      runs: 1,
      startedAt: now,
      worker: args.worker,
    });
  } else {
    stepId = existing._id;
    await ctx.db.patch(stepId, { runs: existing.runs + 1, startedAt: now, worker: args.worker });
  }
  await ctx.db.patch(job._id, {
    // Chapters already show: the page keeps its progress beside them.
    status: job.status === "running" ? "running" : stepStatus(args.step),
    currentStep: Math.min(args.step, ANALYSIS_STEPS),
    progress: stepProgress(args.step, language),
    updatedAt: now,
  });
  const line = `${stepLogLine(args.step)} (worker ${args.worker})`;
  await appendLogLine(ctx, job._id, "info", line, now);
  return { step: (await ctx.db.get(stepId))!, job: (await ctx.db.get(job._id))! };
}

// Whether the job has any doc: one document of one index range (a chapter, at most
// 1 MiB), read for the save step only.
async function hasDocs(ctx: MutationCtx, jobId: Id<"jobs">): Promise<boolean> {
  const doc = await ctx.db
    .query("docs")
    .withIndex("by_job", (q) => q.eq("jobId", jobId))
    .first();
  return doc !== null;
}

// A step's start, with everything a worker needs to run the step: the job, its
// repository and all of the job's step records. One round trip per step start
// instead of four (the start, jobs:getJob, steps:getSteps, plus
// jobs:getRepository for the clone step); on Convex each is an HTTPS request.
// With `reuseKey`, the records reuse:findReuse would answer for it come back in
// `reuse` (empty without one): a step that needs them saves that call.
export const beginStep = workerMutation({
  args: { ...stepStartArgs, reuseKey: v.optional(reuseKey) },
  returns: v.object({
    step: jobStepDoc,
    job: jobDoc,
    repository: v.union(repositoryDoc, v.null()),
    steps: v.array(jobStepDoc),
    reuse: v.array(reuseRecord),
    // For the save step only: whether the job has docs stored (chapters published as
    // their reviews ended, an earlier run's save), so that it reads them back only then.
    hasDocs: v.optional(v.boolean()),
  }),
  handler: async (ctx, args, call) => {
    const { step, job } = await recordStart(ctx, args, call);
    return {
      step,
      job,
      // null rather than an error: the web app may have deleted the repository.
      repository: await findRepository(ctx, job.repositoryId),
      steps: await stepsOf(ctx, job._id),
      reuse:
        args.reuseKey === undefined
          ? []
          : await findReuseRecords(ctx, job.repositoryId, args.reuseKey),
      ...(args.step === FINALIZE_STEP ? { hasDocs: await hasDocs(ctx, job._id) } : {}),
    };
  },
});

// One piece of a large artifact, written before finishStep names how many there
// are. Writing a piece again replaces it, so a retried call changes nothing.
export const putArtifactPart = workerMutation({
  args: {
    jobId: v.string(),
    token: v.string(),
    step: v.number(),
    part: v.number(),
    data: v.string(),
  },
  returns: v.null(),
  handler: async (ctx, args) => {
    stepName(args.step);
    partCount(args.part + 1);
    const job = await fenced(ctx, args.jobId, args.token);
    const existing = await ctx.db
      .query("jobStepParts")
      .withIndex("by_job_step_part", (q) =>
        q.eq("jobId", job._id).eq("step", args.step).eq("part", args.part),
      )
      .unique();
    if (existing === null) {
      await ctx.db.insert("jobStepParts", {
        jobId: job._id,
        step: args.step,
        part: args.part,
        data: args.data,
      });
    } else {
      await ctx.db.patch(existing._id, { data: args.data });
    }
    return null;
  },
});

// Stores a step's artifact: inline, or (with `parts`) as the pieces already written
// by putArtifactPart, and then `artifact` must be empty. Pieces an earlier, larger
// run left beyond the new count are deleted.
export const finishStep = workerMutation({
  args: {
    jobId: v.string(),
    token: v.string(),
    step: v.number(),
    artifact: v.string(),
    parts: v.optional(v.number()),
    usage: v.optional(v.string()),
    // A job log line written with the result: one call instead of two.
    log: v.optional(v.string()),
  },
  returns: v.null(),
  handler: async (ctx, args, { now }) => {
    const name = stepName(args.step);
    const parts = args.parts === undefined ? undefined : partCount(args.parts);
    if (parts !== undefined && args.artifact !== "") {
      throw invalid("an artifact stored in parts has an empty inline artifact");
    }
    const job = await fenced(ctx, args.jobId, args.token);
    const stale = await ctx.db
      .query("jobStepParts")
      .withIndex("by_job_step_part", (q) =>
        q
          .eq("jobId", job._id)
          .eq("step", args.step)
          .gte("part", parts ?? 0),
      )
      .take(MAX_ARTIFACT_PARTS);
    for (const piece of stale) await ctx.db.delete(piece._id);
    const stored = {
      status: "completed" as const,
      artifact: args.artifact,
      completedAt: now,
      ...(args.usage === undefined ? {} : { usage: args.usage }),
    };
    const existing = await ctx.db
      .query("jobSteps")
      .withIndex("by_job_step", (q) => q.eq("jobId", job._id).eq("step", args.step))
      .unique();
    if (existing === null) {
      await ctx.db.insert("jobSteps", {
        jobId: job._id,
        step: args.step,
        name,
        runs: 1,
        startedAt: now,
        ...stored,
        ...(parts === undefined ? {} : { artifactParts: parts }),
      });
    } else {
      // Patching to undefined removes the field: an inline artifact replaces parts.
      await ctx.db.patch(existing._id, { ...stored, artifactParts: parts });
    }
    await ctx.db.patch(job._id, { updatedAt: now });
    if (args.log !== undefined) await appendLogLine(ctx, job._id, "info", args.log, now);
    return null;
  },
});

// The pieces of a step's artifact from `from` on, at most PARTS_PER_READ of them, in
// order. The caller joins them; a missing piece shows as a gap in `part`.
export const getArtifactParts = workerQuery({
  args: { jobId: v.string(), step: v.number(), from: v.number() },
  returns: v.array(v.object({ part: v.number(), data: v.string() })),
  handler: async (ctx, args) => {
    stepName(args.step);
    const jobId = jobIdOf(ctx, args.jobId);
    if (jobId === null) return [];
    const pieces = await ctx.db
      .query("jobStepParts")
      .withIndex("by_job_step_part", (q) =>
        q.eq("jobId", jobId).eq("step", args.step).gte("part", args.from),
      )
      .take(PARTS_PER_READ);
    return pieces.map((piece) => ({ part: piece.part, data: piece.data }));
  },
});

// The states of a job's steps without their artifacts (which can be megabytes, in
// parts): what dispatch, the bridge's metrics and the dashboard need.
export const getStepStates = workerQuery({
  args: { jobId: v.string() },
  returns: v.array(jobStepStateDoc),
  handler: async (ctx, args) => {
    const jobId = jobIdOf(ctx, args.jobId);
    if (jobId === null) return [];
    return (await stepsOf(ctx, jobId)).map(
      ({ artifact: _artifact, artifactParts: _parts, ...state }) => state,
    );
  },
});

// The job with its step states, in one call: what a bridge reads when a job it held
// ended (its outcome and its steps' durations).
export const getJobProgress = workerQuery({
  args: { jobId: v.string() },
  returns: v.object({ job: jobDoc, steps: v.array(jobStepStateDoc) }),
  handler: async (ctx, args) => {
    const job = await loadJob(ctx, args.jobId);
    const steps = (await stepsOf(ctx, job._id)).map(
      ({ artifact: _artifact, artifactParts: _parts, ...state }) => state,
    );
    return { job, steps };
  },
});

export const getSteps = workerQuery({
  args: { jobId: v.string() },
  returns: v.array(jobStepDoc),
  handler: async (ctx, args) => {
    const jobId = jobIdOf(ctx, args.jobId);
    if (jobId === null) return [];
    return stepsOf(ctx, jobId);
  },
});

export const appendLog = workerMutation({
  args: {
    jobId: v.string(),
    level: logLevel,
    msg: v.string(),
  },
  returns: v.number(),
  handler: async (ctx, args, { now }) => {
    // Not fenced: lines from a stale holder are still facts.
    const job = await loadJob(ctx, args.jobId);
    return appendLogLine(ctx, job._id, args.level, args.msg, now);
  },
});

export const getLogs = workerQuery({
  args: {
    jobId: v.string(),
    afterSeq: v.optional(v.number()),
    limit: v.optional(v.number()),
  },
  returns: v.array(jobLogDoc),
  handler: async (ctx, args) => {
    const jobId = jobIdOf(ctx, args.jobId);
    if (jobId === null) return [];
    const limit = clampLimit(args.limit ?? MAX_LOG_PAGE, MAX_LOG_PAGE);
    const afterSeq = args.afterSeq ?? -1;
    return ctx.db
      .query("jobLogs")
      .withIndex("by_job_seq", (q) => q.eq("jobId", jobId).gt("seq", afterSeq))
      .take(limit);
  },
});

const docSpec = v.object({
  slug: v.string(),
  title: v.string(),
  chapterIndex: v.number(),
  kind: docKind,
  content: v.string(),
  sourceKey: v.optional(v.string()),
});

type DocSpec = ObjectType<{ doc: typeof docSpec }>["doc"];

function boundedDocs(docs: DocSpec[]): DocSpec[] {
  if (docs.length > MAX_DOCS_PER_CALL) {
    throw invalid(`at most ${MAX_DOCS_PER_CALL} docs per call, got ${docs.length}`);
  }
  // As the web's docs.upsertFromJob: a chapter or tutorial is never stored blank.
  const blank = docs.find(
    (doc) => (doc.kind === "chapter" || doc.kind === "tutorial") && doc.content.trim() === "",
  );
  if (blank !== undefined) {
    throw invalid(`${blank.kind} ${blank.slug} has no content; blank docs are not stored`);
  }
  return docs;
}

// Inserts or replaces docs by (jobId, slug); a replaced doc keeps its createdAt, so
// the page's creation order does not move.
async function writeDocs(ctx: MutationCtx, job: Doc<"jobs">, docs: DocSpec[], now: number) {
  for (const doc of docs) {
    const existing = await ctx.db
      .query("docs")
      .withIndex("by_job_slug", (q) => q.eq("jobId", job._id).eq("slug", doc.slug))
      .first();
    if (existing === null) {
      await ctx.db.insert("docs", {
        ...doc,
        jobId: job._id,
        repositoryId: job.repositoryId,
        createdAt: now,
        runId: job.runId,
      });
    } else {
      await ctx.db.patch(existing._id, {
        title: doc.title,
        chapterIndex: doc.chapterIndex,
        kind: doc.kind,
        content: doc.content,
        sourceKey: doc.sourceKey,
        updatedAt: now,
      });
    }
  }
}

export const upsertDocs = workerMutation({
  args: {
    jobId: v.string(),
    token: v.string(),
    docs: v.array(docSpec),
  },
  returns: v.number(),
  handler: async (ctx, args, { now }) => {
    const docs = boundedDocs(args.docs);
    const job = await fenced(ctx, args.jobId, args.token);
    await writeDocs(ctx, job, docs, now);
    return docs.length;
  },
});

// Chapters stored as their reviews end, while the job still runs: the course page
// lists them at once. The job becomes `running`, the one status under which the page
// shows the job's progress beside its docs, and its progress says how many chapters
// are ready. docsCount is left to complete.
export const publishChapters = workerMutation({
  args: {
    jobId: v.string(),
    token: v.string(),
    docs: v.array(docSpec),
    ready: v.number(),
    total: v.number(),
  },
  returns: v.number(),
  handler: async (ctx, args, { now, language }) => {
    const docs = boundedDocs(args.docs);
    const others = docs.filter((d) => d.kind !== "chapter");
    if (others.length > 0) {
      throw invalid(`publishChapters stores chapters only, not ${others[0]!.kind}`);
    }
    const job = await fenced(ctx, args.jobId, args.token);
    if (job.cancelRequested) throw cancelRequested(job._id);
    await writeDocs(ctx, job, docs, now);
    await ctx.db.patch(job._id, {
      status: "running",
      progress: chaptersReadyProgress(args.ready, args.total, language),
      updatedAt: now,
    });
    return docs.length;
  },
});

// Docs an earlier run of a step stored that the finished course no longer has (a
// chapter now cut into parts, or no longer cut). Each is read to be deleted, so a call
// names at most MAX_REMOVED_DOCS of them: 8 MiB of reads at most.
const MAX_REMOVED_DOCS = 8;

export const removeDocs = workerMutation({
  args: { jobId: v.string(), token: v.string(), slugs: v.array(v.string()) },
  returns: v.number(),
  handler: async (ctx, args) => {
    if (args.slugs.length > MAX_REMOVED_DOCS) {
      throw invalid(`at most ${MAX_REMOVED_DOCS} docs removed per call, got ${args.slugs.length}`);
    }
    const job = await fenced(ctx, args.jobId, args.token);
    let removed = 0;
    for (const slug of args.slugs) {
      const doc = await ctx.db
        .query("docs")
        .withIndex("by_job_slug", (q) => q.eq("jobId", job._id).eq("slug", slug))
        .first();
      if (doc !== null) {
        await ctx.db.delete(doc._id);
        removed += 1;
      }
    }
    return removed;
  },
});

// Docs can be large (a chapter is up to a few hundred KB), so they come back a
// page at a time; the caller sorts the whole set.
export const getDocs = workerQuery({
  args: { jobId: v.string(), paginationOpts: paginationOptsValidator },
  returns: v.object({
    page: v.array(docDoc),
    isDone: v.boolean(),
    continueCursor: v.string(),
    splitCursor: v.optional(v.union(v.string(), v.null())),
    pageStatus: v.optional(
      v.union(v.literal("SplitRecommended"), v.literal("SplitRequired"), v.null()),
    ),
  }),
  handler: async (ctx, args) => {
    const jobId = jobIdOf(ctx, args.jobId);
    if (jobId === null) return { page: [], isDone: true, continueCursor: "" };
    return ctx.db
      .query("docs")
      .withIndex("by_job", (q) => q.eq("jobId", jobId))
      .paginate(args.paginationOpts);
  },
});
