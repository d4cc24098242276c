// The queue's reads stay bounded however large the table grows. convex-test
// counts the documents each transaction reads and fails the call past the limit
// set here, like a real deployment does at its (much higher) limits.
import { afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { api } from "../functions/_generated/api";
import type { Id } from "../functions/_generated/dataModel";
import type { JobStatus } from "../functions/worker/lib/fields";
import { LEASE_MS, SECRET, T0, newRepository, setup, type T, ownerOf } from "./setup";

const READ_LIMIT = 600;
const FINAL = 5_000;
const ACTIVE = 2_000;
const PENDING = 3_000;
const NOW = T0 + LEASE_MS + 10_000;

let t: T;

beforeAll(async () => {
  t = setup({ documentsRead: READ_LIMIT });
  const repositoryId = await newRepository(t);
  const userId = await ownerOf(t, repositoryId);
  await t.run(async (ctx) => {
    const insert = (status: JobStatus, i: number, extra: Record<string, unknown> = {}) =>
      ctx.db.insert("jobs", {
        userId,
        repositoryId,
        status,
        prompt: "",
        callbackToken: "",
        createdAt: T0 + i,
        runAt: T0 + i,
        attempts: 0,
        maxAttempts: 5,
        ...extra,
      });
    let i = 0;
    const finals: JobStatus[] = ["completed", "failed", "dead", "canceled"];
    for (let n = 0; n < FINAL; n++, i++) await insert(finals[n % 4]!, i, { dedupeKey: "shared" });
    // Held by bridge "a", all with expired leases.
    for (let n = 0; n < ACTIVE; n++, i++) {
      await insert("analyzing", i, { lockedBy: "a", leaseUntil: T0 + n, leaseToken: `t${n}` });
    }
    for (let n = 0; n < PENDING; n++, i++) await insert("pending", i);
  });
}, 60_000);

afterEach(() => {
  vi.unstubAllEnvs();
});

describe(`with ${FINAL + ACTIVE + PENDING} jobs and a ${READ_LIMIT}-document read limit`, () => {
  test("the limit bites: an unbounded read of the jobs table fails", async () => {
    vi.stubEnv("FONDATION_WORKER_SECRET", SECRET);
    vi.stubEnv("FONDATION_TEST_CLOCK", "1");
    await expect(
      t.run(async (ctx) => (await ctx.db.query("jobs").collect()).length),
    ).rejects.toThrow(/Scanned too many documents/);
  });

  test("claimBatch reads only the jobs it claims", async () => {
    vi.stubEnv("FONDATION_WORKER_SECRET", SECRET);
    vi.stubEnv("FONDATION_TEST_CLOCK", "1");
    const claims = await t.mutation(api.worker.queue.claimBatch, {
      secret: SECRET,
      owner: "b",
      limit: 10,
      leaseMs: LEASE_MS,
      now: NOW,
    });
    expect(claims).toHaveLength(10);
    expect(claims[0]!.job.createdAt).toBe(T0 + FINAL + ACTIVE);
  });

  test("heldJobs, listJobs, readyCount and oldestPending stay bounded", async () => {
    vi.stubEnv("FONDATION_WORKER_SECRET", SECRET);
    vi.stubEnv("FONDATION_TEST_CLOCK", "1");
    expect(
      await t.query(api.worker.queue.heldJobs, { secret: SECRET, owner: "a", limit: 20 }),
    ).toHaveLength(20);
    expect(await t.query(api.worker.jobs.listJobs, { secret: SECRET, limit: 50 })).toHaveLength(50);
    expect(
      await t.query(api.worker.jobs.listJobs, { secret: SECRET, status: "completed", limit: 50 }),
    ).toHaveLength(50);
    const ready = await t.query(api.worker.queue.readyCount, { secret: SECRET, now: NOW });
    expect(ready).toMatchObject({ count: 100, capped: true });
    const oldest = await t.query(api.worker.ops.oldestPending, { secret: SECRET, now: NOW });
    expect(oldest).toBeGreaterThanOrEqual(T0 + FINAL + ACTIVE);
  });

  test("metrics caps each count", async () => {
    vi.stubEnv("FONDATION_WORKER_SECRET", SECRET);
    vi.stubEnv("FONDATION_TEST_CLOCK", "1");
    const counts = await t.query(api.worker.ops.countByStatus, { secret: SECRET, cap: 50 });
    const analyzing = counts.find((c) => c.status === "analyzing");
    expect(analyzing).toEqual({ status: "analyzing", count: 50, capped: true });
    expect(counts.find((c) => c.status === "running")).toBeUndefined();
  });

  test("createJob's dedupe check ignores the finished jobs sharing its key", async () => {
    vi.stubEnv("FONDATION_WORKER_SECRET", SECRET);
    vi.stubEnv("FONDATION_TEST_CLOCK", "1");
    const job = (await t.query(api.worker.jobs.listJobs, { secret: SECRET, limit: 1 }))[0]!;
    const { created } = await t.mutation(api.worker.jobs.createJob, {
      secret: SECRET,
      userId: "u",
      repositoryId: job.repositoryId as Id<"repositories">,
      dedupeKey: "shared",
      now: NOW,
    });
    expect(created).toBe(true);
  });

  test("reclaimExpired reclaims a bounded batch at a time", async () => {
    vi.stubEnv("FONDATION_WORKER_SECRET", SECRET);
    vi.stubEnv("FONDATION_TEST_CLOCK", "1");
    const ids = await t.mutation(api.worker.queue.reclaimExpired, {
      secret: SECRET,
      limit: 100,
      now: NOW,
    });
    expect(ids).toHaveLength(100);
  });
});
