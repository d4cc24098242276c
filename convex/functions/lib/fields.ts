// Field validators of every table, shared by schema.ts (storage) and the
// functions' `returns` validators (wire), so the two cannot drift apart.
// Names and types of the web app's existing fields are kept as they are; what this
// project adds (leaseToken, ref, cloneUrl, the jobSteps table) is optional.
import { v, type Infer } from "convex/values";

export const ACTIVE_STATUSES = ["claimed", "cloning", "analyzing", "gathering", "running"] as const;
export const FINAL_STATUSES = ["completed", "failed", "canceled", "dead"] as const;
export const JOB_STATUSES = ["pending", ...ACTIVE_STATUSES, ...FINAL_STATUSES] as const;

export type JobStatus = (typeof JOB_STATUSES)[number];
export type ActiveStatus = (typeof ACTIVE_STATUSES)[number];

export const jobStatus = v.union(
  v.literal("pending"),
  v.literal("claimed"),
  v.literal("cloning"),
  v.literal("analyzing"),
  v.literal("gathering"),
  v.literal("running"),
  v.literal("completed"),
  v.literal("failed"),
  v.literal("canceled"),
  v.literal("dead"),
);

// The web app reads `result` as either this object, a plain message, or null.
export const jobResult = v.union(
  v.object({
    success: v.boolean(),
    message: v.optional(v.string()),
    data: v.optional(v.any()),
  }),
  v.string(),
  v.null(),
);
export type JobResult = Infer<typeof jobResult>;

export const jobFields = {
  // The web app's user identifier; kept as a string because its users may come
  // from an auth provider rather than a `users` table.
  userId: v.string(),
  repositoryId: v.id("repositories"),
  status: jobStatus,
  prompt: v.string(),
  callbackToken: v.string(),
  runAt: v.optional(v.number()),
  attempts: v.optional(v.number()),
  maxAttempts: v.optional(v.number()),
  lockedBy: v.optional(v.string()),
  leaseUntil: v.optional(v.number()),
  dedupeKey: v.optional(v.string()),
  lastError: v.optional(v.string()),
  createdAt: v.number(),
  updatedAt: v.optional(v.number()),
  completedAt: v.optional(v.number()),
  progress: v.optional(v.string()),
  currentStep: v.optional(v.number()),
  totalSteps: v.optional(v.number()),
  result: v.optional(jobResult),
  error: v.optional(v.string()),
  docsCount: v.optional(v.number()),
  cancelRequested: v.optional(v.boolean()),
  runId: v.optional(v.string()),
  // Owned by the web app; its shape is not this project's business.
  regenerationStats: v.optional(v.any()),
  // Added by this project.
  leaseToken: v.optional(v.string()),
  ref: v.optional(v.string()),
};

export const repositoryFields = {
  userId: v.string(),
  githubRepoId: v.number(),
  name: v.string(),
  fullName: v.string(),
  description: v.optional(v.string()),
  defaultBranch: v.string(),
  lastFetched: v.optional(v.number()),
  lastAnalyzedAt: v.optional(v.number()),
  // Owned by the web app (GitHub metadata).
  languages: v.optional(v.any()),
  stats: v.optional(v.any()),
  // Added by this project: a clone URL that is not github.com/<fullName>.
  cloneUrl: v.optional(v.string()),
};

export const docKind = v.union(
  v.literal("chapter"),
  v.literal("tutorial"),
  v.literal("toc"),
  v.literal("yaml"),
);

export const docFields = {
  jobId: v.id("jobs"),
  repositoryId: v.id("repositories"),
  slug: v.string(),
  title: v.string(),
  chapterIndex: v.number(),
  kind: docKind,
  content: v.string(),
  createdAt: v.number(),
  updatedAt: v.optional(v.number()),
  sourceKey: v.optional(v.string()),
  runId: v.optional(v.string()),
  normalizedAt: v.optional(v.number()),
};

export const logLevel = v.union(v.literal("info"), v.literal("error"));

export const jobLogFields = {
  jobId: v.id("jobs"),
  ts: v.number(),
  seq: v.number(),
  level: logLevel,
  msg: v.string(),
};

export const stepStatus = v.union(v.literal("started"), v.literal("completed"));

export const jobStepFields = {
  jobId: v.id("jobs"),
  step: v.number(),
  name: v.string(),
  status: stepStatus,
  runs: v.number(),
  artifact: v.optional(v.string()),
  startedAt: v.number(),
  completedAt: v.optional(v.number()),
  worker: v.optional(v.string()),
  // Added: what the step's engine spent (Claude: cost, turns, tokens), as JSON.
  usage: v.optional(v.string()),
  // Added: an artifact too large for one document (1 MiB) is stored in this many
  // jobStepParts documents, and artifact is then empty.
  artifactParts: v.optional(v.number()),
};

// One piece of a large step artifact; the pieces in part order are the artifact.
export const jobStepPartFields = {
  jobId: v.id("jobs"),
  step: v.number(),
  part: v.number(),
  data: v.string(),
};

// Documents as functions return them: the stored fields plus the system fields.
export const jobDoc = v.object({
  _id: v.id("jobs"),
  _creationTime: v.number(),
  ...jobFields,
});
export const repositoryDoc = v.object({
  _id: v.id("repositories"),
  _creationTime: v.number(),
  ...repositoryFields,
});
export const docDoc = v.object({ _id: v.id("docs"), _creationTime: v.number(), ...docFields });
export const jobLogDoc = v.object({
  _id: v.id("jobLogs"),
  _creationTime: v.number(),
  ...jobLogFields,
});
export const jobStepDoc = v.object({
  _id: v.id("jobSteps"),
  _creationTime: v.number(),
  ...jobStepFields,
});

// Every public function takes the worker secret; optional in the validator so
// that a caller without one gets a clear `unauthorized` error from the handler
// rather than a generic argument-validation failure.
export const secretArg = v.optional(v.string());
// Times are parameters so that callers (and tests) own the clock; the web app
// and the crons may leave them out and get the server's clock.
export const nowArg = v.optional(v.number());
