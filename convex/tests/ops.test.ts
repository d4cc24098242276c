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
      t.query(api.worker.ops.listStuck, { secret: SECRET, now, idleMs, limit: 10 });
    expect(await stuck(T0 + 1, 600_000)).toEqual([]);
    expect((await stuck(T0 + LEASE_MS + 1, 10 * LEASE_MS)).map((j) => j._id)).toEqual([jobId]);
    // Renewed but idle: stuck by idleness.
    await t.mutation(api.worker.queue.renew, {
      secret: SECRET,
      jobId,
      token,
      leaseMs: 10 * LEASE_MS,
      now: T0,
    });
    expect((await stuck(T0 + 2 * LEASE_MS, LEASE_MS)).map((j) => j._id)).toEqual([jobId]);
    const job = await t.mutation(api.worker.ops.requeue, {
      secret: SECRET,
      jobId,
      reason: "operator",
      now: T0 + 5,
    });
    expect(job).toMatchObject({ status: "pending", runAt: T0 + 5, lastError: "operator" });
    expect(job.leaseToken).toBeUndefined();
    const renew = t.mutation(api.worker.queue.renew, {
      secret: SECRET,
      jobId,
      token,
      leaseMs: 1,
      now: T0 + 6,
    });
    expect(await errorCode(renew)).toBe("lease_lost");
    const again = await t.mutation(api.worker.ops.requeue, {
      secret: SECRET,
      jobId,
      reason: "again",
      now: T0 + 7,
    });
    expect(again.updatedAt).toBe(T0 + 5);
  });

  test("purge deletes old final jobs with their steps, logs and docs, and keeps the latest course", async () => {
    const t = setup();
    const repo = await newRepository(t);
    // Runs a job to the end: one doc, then completed (or failed, permanently).
    const run = async (now: number, end: "complete" | "fail") => {
      const jobId = await newJob(t, repo, { now });
      const { leaseToken: token } = (await claimOne(t, "a", now))!;
      const base = { secret: SECRET, jobId, token, now };
      await t.mutation(api.worker.steps.beginStep, { ...base, step: 0, worker: "w" });
      const doc = { slug: `c-${now}`, title: "t", chapterIndex: 1, kind: "chapter" as const };
      await t.mutation(api.worker.steps.upsertDocs, { ...base, docs: [{ ...doc, content: "c" }] });
      if (end === "complete") {
        await t.mutation(api.worker.queue.complete, {
          ...base,
          result: { success: true, data: "1 documents" },
          docsCount: 1,
        });
      } else {
        await t.mutation(api.worker.queue.fail, { ...base, error: "e", permanent: true });
      }
      return jobId;
    };
    const older = await run(T0, "complete");
    const failed = await run(T0 + 10, "fail");
    const latest = await run(T0 + 20, "complete");
    const live = await newJob(t, repo, { now: T0 + 30 });
    const purge = (before: number, dryRun: boolean) =>
      t.mutation(api.worker.ops.purge, { secret: SECRET, before, limit: 10, dryRun });
    expect(await purge(T0, false)).toEqual([]);
    expect(await purge(T0 + 100, true)).toEqual([older, failed]);
    expect(await purge(T0 + 100, false)).toEqual([older, failed]);
    for (const jobId of [older, failed]) {
      expect(await errorCode(t.query(api.worker.jobs.getJob, { secret: SECRET, jobId }))).toBe(
        "not_found",
      );
    }
    const left = await t.run(async (ctx) => ({
      jobs: (await ctx.db.query("jobs").collect()).map((j) => j._id),
      stepsOf: (await ctx.db.query("jobSteps").collect()).map((s) => s.jobId),
      docsOf: (await ctx.db.query("docs").collect()).map((d) => d.jobId),
    }));
    expect(left).toEqual({ jobs: [latest, live], stepsOf: [latest], docsOf: [latest] });
    // The latest completed job stays however old it gets.
    expect(await purge(T0 + 1_000_000, false)).toEqual([]);
  });
});
