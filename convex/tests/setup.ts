/// <reference types="vite/client" />
// Shared set-up of the convex-test suites: the project's schema and modules, the
// worker secret in the deployment's environment, and small factories.
import { convexTest } from "convex-test";
import { vi } from "vitest";
import { api } from "../functions/_generated/api";
import type { Id } from "../functions/_generated/dataModel";
import schema from "../functions/schema";
import type { TransactionMetrics } from "convex-test/dist/transactionMetrics";

// The worker's functions, and the test model of the web app's (./webapp/), served
// under webapp/ as the stand-in serves them.
const webapp = Object.entries(import.meta.glob("./webapp/*.ts")).map(
  ([file, load]) => [file.replace("./webapp/", "../functions/webapp/"), load] as const,
);
export const modules = { ...import.meta.glob("../functions/**/*.*s"), ...Object.fromEntries(webapp) };
export const SECRET = "test-worker-secret";
export const LEASE_MS = 300_000;
export const T0 = 1_700_000_000_000;

export function setup(limits?: Partial<TransactionMetrics>) {
  vi.stubEnv("FONDATION_WORKER_SECRET", SECRET);
  vi.stubEnv("FONDATION_TEST_CLOCK", "1");
  return convexTest({ schema, modules, transactionLimits: limits ?? false });
}

export type T = ReturnType<typeof setup>;

export async function newRepository(t: T, fullName = "octo/hello"): Promise<Id<"repositories">> {
  const repo = await t.mutation(api.worker.jobs.upsertRepository, {
    secret: SECRET,
    userId: "user-1",
    name: fullName.split("/")[1] ?? fullName,
    fullName,
    now: T0,
  });
  return repo._id;
}

// The users document a repository belongs to (jobs name it in userId).
export async function ownerOf(t: T, repositoryId: Id<"repositories">): Promise<Id<"users">> {
  return t.run(async (ctx) => (await ctx.db.get(repositoryId))!.userId);
}

export async function newJob(
  t: T,
  repositoryId: Id<"repositories">,
  opts: { now?: number; dedupeKey?: string; maxAttempts?: number; runAt?: number } = {},
): Promise<Id<"jobs">> {
  const { job } = await t.mutation(api.worker.jobs.createJob, {
    secret: SECRET,
    userId: "user-1",
    repositoryId,
    now: opts.now ?? T0,
    dedupeKey: opts.dedupeKey,
    maxAttempts: opts.maxAttempts,
    runAt: opts.runAt,
  });
  return job._id;
}

export async function claimOne(t: T, owner: string, now = T0) {
  const claims = await t.mutation(api.worker.queue.claimBatch, {
    secret: SECRET,
    owner,
    limit: 1,
    leaseMs: LEASE_MS,
    now,
  });
  return claims[0];
}

// The `code` of a ConvexError thrown by `promise`, or a failure if it resolves.
export async function errorCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    const data = (err as { data?: { code?: string } }).data;
    if (data?.code !== undefined) return data.code;
    throw err;
  }
  throw new Error("expected the call to fail");
}
