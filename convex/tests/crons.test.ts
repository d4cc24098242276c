// The deployment reclaims expired leases by itself: a cron every minute, and a
// full batch schedules the next one through ctx.scheduler (run here with fake
// timers) until the backlog is drained.
import { makeFunctionReference } from "convex/server";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "../functions/_generated/api";
import crons from "../functions/crons";
import { LEASE_MS, SECRET, T0, claimOne, newJob, newRepository, setup } from "./setup";

type CronSpec = { name: string; args: unknown[]; schedule: { type: string; minutes?: number } };

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

describe("reclaim cron", () => {
  test("runs the internal reclaim every minute", () => {
    const specs = (crons as unknown as { crons: Record<string, CronSpec> }).crons;
    expect(specs["fondation worker: reclaim expired leases"]).toMatchObject({
      name: "worker/queue:reclaimExpiredInternal",
      schedule: { type: "interval", minutes: 1 },
    });
  });

  test("a cron tick drains a backlog bigger than one batch through the scheduler", async () => {
    const t = setup();
    const repo = await newRepository(t);
    const total = 230;
    for (let i = 0; i < total; i++) await newJob(t, repo, { now: T0 + i });
    const c = T0 + total;
    const claim = () =>
      t.mutation(api.worker.queue.claimBatch, {
        secret: SECRET,
        owner: "gone",
        limit: 100,
        leaseMs: LEASE_MS,
        now: c,
      });
    expect((await claim()).length + (await claim()).length).toBe(200);
    await claim();
    await newJob(t, repo, { now: c });
    const live = await claimOne(t, "alive", c + LEASE_MS);

    vi.setSystemTime(c + LEASE_MS + 60_000);
    const spec = (crons as unknown as { crons: Record<string, CronSpec> }).crons[
      "fondation worker: reclaim expired leases"
    ]!;
    const tick = makeFunctionReference<"mutation">(spec.name);
    // The cron's own arguments; its default batch is 100.
    expect(await t.mutation(tick, {})).toBe(100);
    await t.finishAllScheduledFunctions(vi.runAllTimers);

    const pending = await t.query(api.worker.jobs.listJobs, {
      secret: SECRET,
      status: "pending",
      limit: 500,
    });
    expect(pending).toHaveLength(total);
    const held = await t.query(api.worker.queue.heldJobs, { secret: SECRET, owner: "alive", limit: 5 });
    expect(held.map((j) => j._id)).toEqual([live!.job._id]);
  });

  test("a partial batch schedules nothing more", async () => {
    const t = setup();
    const jobId = await newJob(t, await newRepository(t));
    await claimOne(t, "gone", T0);
    vi.setSystemTime(T0 + LEASE_MS + 1);
    expect(await t.mutation(internal.worker.queue.reclaimExpiredInternal, { limit: 10 })).toBe(1);
    await t.finishAllScheduledFunctions(vi.runAllTimers);
    const job = await t.query(api.worker.jobs.getJob, { secret: SECRET, jobId });
    expect(job.status).toBe("pending");
  });
});
