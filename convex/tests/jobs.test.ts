import { afterEach, describe, expect, test, vi } from "vitest";
import { api } from "../functions/_generated/api";
import { SECRET, T0, claimOne, errorCode, newJob, newRepository, setup } from "./setup";

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("createJob", () => {
  test("a live job holding the dedupe key is returned instead of a new one", async () => {
    const t = setup();
    const repositoryId = await newRepository(t);
    const args = { secret: SECRET, userId: "u", repositoryId, dedupeKey: "octo/hello@main" };
    const first = await t.mutation(api.worker.jobs.createJob, { ...args, now: T0 });
    expect(first.created).toBe(true);
    expect(first.job).toMatchObject({
      status: "pending",
      progress: "En attente...",
      totalSteps: 6,
      attempts: 0,
      maxAttempts: 5,
    });
    const second = await t.mutation(api.worker.jobs.createJob, { ...args, now: T0 + 1 });
    expect(second).toMatchObject({ created: false, job: { _id: first.job._id } });
    // Still live while claimed.
    await claimOne(t, "a", T0 + 2);
    const third = await t.mutation(api.worker.jobs.createJob, { ...args, now: T0 + 3 });
    expect(third.created).toBe(false);
  });

  test("a final job frees its dedupe key", async () => {
    const t = setup();
    const repositoryId = await newRepository(t);
    const args = { secret: SECRET, userId: "u", repositoryId, dedupeKey: "k" };
    const first = await t.mutation(api.worker.jobs.createJob, { ...args, now: T0 });
    await t.mutation(api.worker.jobs.requestCancel, { secret: SECRET, jobId: first.job._id, now: T0 + 1 });
    const second = await t.mutation(api.worker.jobs.createJob, { ...args, now: T0 + 2 });
    expect(second.created).toBe(true);
    expect(second.job._id).not.toBe(first.job._id);
  });

  test("jobs without a key are never deduplicated", async () => {
    const t = setup();
    const repositoryId = await newRepository(t);
    const a = await newJob(t, repositoryId);
    const b = await newJob(t, repositoryId);
    expect(a).not.toBe(b);
  });

  test("an unknown repository is not_found", async () => {
    const t = setup();
    const err = await errorCode(
      t.mutation(api.worker.jobs.createJob, { secret: SECRET, userId: "u", repositoryId: "r1", now: T0 }),
    );
    expect(err).toBe("not_found");
  });
});

describe("retryJob", () => {
  test("puts a failed job back to pending with attempts reset and keeps its steps", async () => {
    const t = setup();
    const jobId = await newJob(t, await newRepository(t));
    const { leaseToken: token } = (await claimOne(t, "a"))!;
    await t.mutation(api.worker.steps.beginStep, {
      secret: SECRET,
      jobId,
      token,
      step: 0,
      worker: "w",
      now: T0,
    });
    await t.mutation(api.worker.steps.finishStep, {
      secret: SECRET,
      jobId,
      token,
      step: 0,
      artifact: "{}",
      now: T0,
    });
    await t.mutation(api.worker.queue.fail, {
      secret: SECRET,
      jobId,
      token,
      error: "boom",
      permanent: true,
      jitterMs: 0,
      now: T0,
    });
    const job = await t.mutation(api.worker.jobs.retryJob, { secret: SECRET, jobId, now: T0 + 5 });
    expect(job).toMatchObject({
      status: "pending",
      attempts: 0,
      runAt: T0 + 5,
      progress: "En attente...",
    });
    expect(job.error).toBeUndefined();
    expect(job.completedAt).toBeUndefined();
    const steps = await t.query(api.worker.steps.getSteps, { secret: SECRET, jobId });
    expect(steps.map((s) => [s.step, s.status])).toEqual([[0, "completed"]]);
  });

  test("refuses a job that is not failed, dead or canceled", async () => {
    const t = setup();
    const jobId = await newJob(t, await newRepository(t));
    expect(await errorCode(t.mutation(api.worker.jobs.retryJob, { secret: SECRET, jobId, now: T0 }))).toBe(
      "invalid",
    );
  });
});

describe("listJobs and repositories", () => {
  test("lists newest first, by status when asked", async () => {
    const t = setup();
    const repo = await newRepository(t);
    const old = await newJob(t, repo, { now: T0 });
    const mid = await newJob(t, repo, { now: T0 + 1 });
    const young = await newJob(t, repo, { now: T0 + 2 });
    await t.mutation(api.worker.jobs.requestCancel, { secret: SECRET, jobId: mid, now: T0 + 3 });
    const all = await t.query(api.worker.jobs.listJobs, { secret: SECRET, limit: 10 });
    expect(all.map((j) => j._id)).toEqual([young, mid, old]);
    const pending = await t.query(api.worker.jobs.listJobs, { secret: SECRET, status: "pending" });
    expect(pending.map((j) => j._id)).toEqual([young, old]);
    expect(await t.query(api.worker.jobs.listJobs, { secret: SECRET, status: "no-such" })).toEqual([]);
  });

  test("upsertRepository keeps one repository per (userId, fullName)", async () => {
    const t = setup();
    const a = await newRepository(t, "octo/hello");
    const b = await newRepository(t, "octo/hello");
    const c = await newRepository(t, "octo/other");
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    const err = await errorCode(
      t.query(api.worker.jobs.getRepository, { secret: SECRET, repositoryId: "nope" }),
    );
    expect(err).toBe("not_found");
  });
});
