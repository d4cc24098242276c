// The rules of a job's life, shared by the queue, step and client functions.
// They mirror store/sqlite/ (the reference store) field for field; the
// contract suite in tests/unit runs the same tests against both stores.
import type { Doc, Id } from "../../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../../_generated/server";
import { ACTIVE_STATUSES, FINAL_STATUSES, type JobStatus } from "./fields";
import { cancelRequested, invalid, leaseLost, notFound } from "./errors";
import shared from "./shared.json";
import { STEP_NAMES } from "./steps";

export { ANALYSIS_STEPS, FINALIZE_STEP, STEP_NAMES, stepName, stepStatus } from "./steps";
export const DEFAULT_MAX_ATTEMPTS = shared.retry.defaultMaxAttempts;

// The schedule of store/backoff.py, both read from shared.json:
// min(5 s * 2^(n-1), 10 min), plus 0-5 s of jitter.
const { baseDelayMs: BASE_DELAY_MS, growth: GROWTH, maxDelayMs: MAX_DELAY_MS } = shared.retry;
export const MAX_JITTER_MS = shared.retry.maxJitterMs;

export function backoffMs(attempts: number): number {
  if (attempts < 1) return 0;
  // Cap the exponent first so that a huge count cannot overflow to Infinity.
  const exponent = Math.min(attempts - 1, 20);
  return Math.min(BASE_DELAY_MS * GROWTH ** exponent, MAX_DELAY_MS);
}

export function isFinal(status: JobStatus): boolean {
  return (FINAL_STATUSES as readonly string[]).includes(status);
}

export function isActive(status: JobStatus): boolean {
  return (ACTIVE_STATUSES as readonly string[]).includes(status);
}

// Fields to patch whenever a job leaves an active status: patching a field to
// undefined removes it.
export const CLEAR_LEASE = {
  lockedBy: undefined,
  leaseUntil: undefined,
  leaseToken: undefined,
} as const;

// A fresh fencing token: 16 random bytes as hex, like the SQLite store's.
export function newLeaseToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function jobIdOf(ctx: QueryCtx, jobId: string): Id<"jobs"> | null {
  return ctx.db.normalizeId("jobs", jobId);
}

export async function loadJob(ctx: QueryCtx, jobId: string): Promise<Doc<"jobs">> {
  const id = jobIdOf(ctx, jobId);
  const job = id === null ? null : await ctx.db.get(id);
  if (job === null) throw notFound("job", jobId);
  return job;
}

// A repository by id, or null when the id is not a repositories id or its
// document is gone: the one lookup behind jobs:getRepository and steps:startStep.
export async function findRepository(
  ctx: QueryCtx,
  repositoryId: string,
): Promise<Doc<"repositories"> | null> {
  const id = ctx.db.normalizeId("repositories", repositoryId);
  return id === null ? null : ctx.db.get(id);
}

// A job's step records ordered by step: the index orders by step, and a job has
// at most one record per step.
export function stepsOf(ctx: QueryCtx, jobId: Id<"jobs">): Promise<Doc<"jobSteps">[]> {
  return ctx.db
    .query("jobSteps")
    .withIndex("by_job_step", (q) => q.eq("jobId", jobId))
    .take(STEP_NAMES.length);
}

// A large artifact is written in pieces of under 1 MiB (a document's limit), at most
// this many: 64 MiB in all, far beyond any course, and a bound on what a read takes.
export const MAX_ARTIFACT_PARTS = shared.artifacts.maxParts;
// Bounds of one call: log lines per getLogs answer, docs per upsertDocs call.
export const MAX_LOG_PAGE = shared.calls.maxLogLines;
export const MAX_DOCS_PER_CALL = shared.calls.maxDocs;

// A job ended by someone else while its holder still held the lease: the web app
// cancels by writing `canceled` (or `failed`) straight into status and leaves the
// lease fields as they were. The worker's own endings clear lockedBy.
export function endedUnderHolder(job: Doc<"jobs">, token: string): boolean {
  return isFinal(job.status) && job.lockedBy !== undefined && job.leaseToken === token;
}

// Every write after a claim goes through here: the caller must hold the current
// lease token, and a final job takes no more writes (so a heartbeat or a late
// completion never brings a canceled job back). A job ended under its holder
// refuses with cancel_requested, so the holder stops its running step as for a
// cancel of ours.
export async function fenced(ctx: QueryCtx, jobId: string, token: string): Promise<Doc<"jobs">> {
  const job = await loadJob(ctx, jobId);
  if (endedUnderHolder(job, token)) throw cancelRequested(jobId);
  if (isFinal(job.status)) throw leaseLost(jobId, `job is ${job.status}`);
  if (job.leaseToken !== token) {
    throw leaseLost(jobId, "lease token is not current (the job was taken over)");
  }
  return job;
}

// Appends a log line with the next seq of the job: the last line is one indexed
// read away, so seq stays monotonic without scanning the job's logs.
export async function appendLogLine(
  ctx: MutationCtx,
  jobId: Id<"jobs">,
  level: "info" | "error",
  msg: string,
  now: number,
): Promise<number> {
  const last = await ctx.db
    .query("jobLogs")
    .withIndex("by_job_seq", (q) => q.eq("jobId", jobId))
    .order("desc")
    .first();
  const seq = last === null ? 0 : last.seq + 1;
  await ctx.db.insert("jobLogs", { jobId, ts: now, seq, level, msg });
  return seq;
}

// Seconds with one decimal, rounded as Python's "{:.1f}" does, so that log lines
// read the same from both stores. Only exact binary ties (x.25, x.75 s) differ
// between JavaScript's toFixed (half up) and Python (half to even).
export function secondsText(ms: number): string {
  const rem = ((ms % 1000) + 1000) % 1000;
  if (Number.isInteger(ms) && (rem === 250 || rem === 750)) {
    const tenths = Math.floor(ms / 100);
    const even = tenths % 2 === 0 ? tenths : tenths + 1;
    return (even / 10).toFixed(1);
  }
  return (ms / 1000).toFixed(1);
}

// Bounds on what one call may ask for, so a bad argument cannot turn a bounded
// read into a table scan.
export function clampLimit(limit: number, max: number): number {
  if (!Number.isFinite(limit)) throw invalid(`limit must be a finite number, got ${limit}`);
  return Math.max(0, Math.min(Math.floor(limit), max));
}

export function requirePositive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw invalid(`${name} must be a positive number, got ${value}`);
  }
  return value;
}
