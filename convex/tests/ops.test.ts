import { afterEach, describe, expect, test, vi } from "vitest";
import { api } from "../functions/_generated/api";
import { LEASE_MS, SECRET, T0, claimOne, errorCode, newJob, newRepository, setup } from "./setup";

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("operator functions", () => {
  test("stuck jobs are listed, and a requeue fences their holder off", async () => {
    const t = setup();
    const jobId = await newJob(t, await newRepository(t));
    const { leaseToken: token } = (await claimOne(t, "a"))!;
    const stuck = (now: number, idleMs: number) =>
      t.query(api.ops.listStuck, { secret: SECRET, now, idleMs, limit: 10 });
    expect(await stuck(T0 + 1, 600_000)).toEqual([]);
    expect((await stuck(T0 + LEASE_MS + 1, 10 * LEASE_MS)).map((j) => j._id)).toEqual([jobId]);
    // Renewed but idle: stuck by idleness.
    await t.mutation(api.queue.renew, {
      secret: SECRET,
      jobId,
      token,
      leaseMs: 10 * LEASE_MS,
      now: T0,
    });
    expect((await stuck(T0 + 2 * LEASE_MS, LEASE_MS)).map((j) => j._id)).toEqual([jobId]);
    const job = await t.mutation(api.ops.requeue, {
      secret: SECRET,
      jobId,
      reason: "operator",
      now: T0 + 5,
    });
    expect(job).toMatchObject({ status: "pending", runAt: T0 + 5, lastError: "operator" });
    expect(job.leaseToken).toBeUndefined();
    const renew = t.mutation(api.queue.renew, {
      secret: SECRET,
      jobId,
      token,
      leaseMs: 1,
      now: T0 + 6,
    });
    expect(await errorCode(renew)).toBe("lease_lost");
    const again = await t.mutation(api.ops.requeue, {
      secret: SECRET,
      jobId,
      reason: "again",
      now: T0 + 7,
    });
    expect(again.updatedAt).toBe(T0 + 5);
  });

  test("purge deletes old final jobs with their steps and logs, and keeps docs", async () => {
    const t = setup();
    const repo = await newRepository(t);
    const jobId = await newJob(t, repo, { now: T0 });
    const { leaseToken: token } = (await claimOne(t, "a"))!;
    const base = { secret: SECRET, jobId, token };
    await t.mutation(api.steps.startStep, { ...base, step: 0, worker: "w", now: T0 + 1 });
    await t.mutation(api.steps.upsertDocs, {
      ...base,
      docs: [{ slug: "index", title: "t", chapterIndex: 0, kind: "toc", content: "c" }],
      now: T0 + 1,
    });
    await t.mutation(api.queue.complete, {
      ...base,
      result: { success: true },
      docsCount: 1,
      now: T0 + 2,
    });
    const live = await newJob(t, repo, { now: T0 + 3 });
    expect(
      await t.mutation(api.ops.purge, { secret: SECRET, before: T0 + 1, limit: 10, dryRun: false }),
    ).toEqual([]);
    expect(
      await t.mutation(api.ops.purge, {
        secret: SECRET,
        before: T0 + 100,
        limit: 10,
        dryRun: true,
      }),
    ).toEqual([jobId]);
    expect(
      await t.mutation(api.ops.purge, {
        secret: SECRET,
        before: T0 + 100,
        limit: 10,
        dryRun: false,
      }),
    ).toEqual([jobId]);
    expect(await errorCode(t.query(api.jobs.getJob, { secret: SECRET, jobId }))).toBe("not_found");
    const left = await t.run(async (ctx) => ({
      steps: (await ctx.db.query("jobSteps").collect()).length,
      logs: (await ctx.db.query("jobLogs").collect()).length,
      docs: (await ctx.db.query("docs").collect()).length,
    }));
    expect(left).toEqual({ steps: 0, logs: 0, docs: 1 });
    expect((await t.query(api.jobs.getJob, { secret: SECRET, jobId: live })).status).toBe(
      "pending",
    );
  });
});
