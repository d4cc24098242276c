// The worker's functions on documents shaped exactly as the web app writes them, and
// beside the web app's own job functions (a test model, ./webapp/): Generate,
// Regenerate, cancel and "clear stuck jobs" as its users press them, a Node worker's
// leftovers, and the server's clock. The clock is the fake one of vitest, which is
// the deployment's clock here: no `now` is passed.
import { makeFunctionReference } from "convex/server";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "../functions/_generated/api";
import type { Doc, Id } from "../functions/_generated/dataModel";
import schema from "../functions/schema";
import { WORKER_INDEXES, workerJobFields, workerRepositoryFields } from "../functions/worker/schema";
import { LEASE_MS, SECRET, T0, type T, errorCode, setup } from "./setup";

const web = {
  signIn: makeFunctionReference<"mutation">("webapp/accounts:signIn"),
  addRepository: makeFunctionReference<"mutation">("webapp/accounts:addRepository"),
  regenerate: makeFunctionReference<"mutation">("webapp/jobs:regenerate"),
  create: makeFunctionReference<"mutation">("webapp/jobs:create"),
  updateStatus: makeFunctionReference<"mutation">("webapp/jobs:updateStatus"),
  clearAllStuckJobsForRepo: makeFunctionReference<"mutation">("webapp/jobs:clearAllStuckJobsForRepo"),
  latest: makeFunctionReference<"query">("webapp/jobs:getLatestCompletedByRepository"),
  listByJobId: makeFunctionReference<"query">("webapp/docs:listByJobId"),
};

// A test deployment honours callers' `now`; these tests run on the server's clock.
function webSetup(): T {
  const t = setup();
  vi.stubEnv("FONDATION_TEST_CLOCK", "");
  return t;
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

async function webUser(t: T, token?: string) {
  const userId = (await t.mutation(web.signIn, {
    githubId: "583231",
    username: "octocat",
    ...(token ? { githubAccessToken: token } : {}),
  })) as Id<"users">;
  const repositoryId = (await t.mutation(web.addRepository, {
    userId,
    githubRepoId: 1296269,
    fullName: "octocat/Hello-World",
  })) as Id<"repositories">;
  return { userId, repositoryId };
}

async function regenerate(t: T, userId: Id<"users">, repositoryId: Id<"repositories">) {
  const { jobId } = (await t.mutation(web.regenerate, {
    userId,
    repositoryId,
    prompt: "Générer le cours pour octocat/Hello-World",
  })) as { jobId: Id<"jobs"> };
  return jobId;
}

const job = (t: T, jobId: Id<"jobs">) =>
  t.run(async (ctx) => (await ctx.db.get(jobId)) as Doc<"jobs">);

async function claim(t: T, owner = "bridge-1") {
  const claims = await t.mutation(api.worker.queue.claimBatch, {
    secret: SECRET,
    owner,
    limit: 5,
    leaseMs: LEASE_MS,
  });
  return claims;
}

describe("the schema is the web app's", () => {
  test("documents written as the web app writes them pass its validation", async () => {
    const t = webSetup();
    const { userId, repositoryId } = await webUser(t, "enc_v1_00:11:22");
    const regenerated = await regenerate(t, userId, repositoryId);
    vi.setSystemTime(T0 + 1);
    const created = await t.mutation(web.create, {
      userId,
      repositoryId: (await t.mutation(web.addRepository, {
        userId,
        githubRepoId: 42,
        fullName: "octocat/Spoon-Knife",
      })) as Id<"repositories">,
      prompt: "Générer le cours pour octocat/Spoon-Knife",
    });
    const regen = await job(t, regenerated);
    expect(regen).toMatchObject({
      status: "pending",
      attempts: 0,
      maxAttempts: 5,
      currentStep: 0,
      totalSteps: 6,
      runAt: regen.createdAt,
      dedupeKey: `${repositoryId}_regen_${regen.createdAt}`,
      progress: "Initializing regeneration...",
    });
    const made = await job(t, (created as { jobId: Id<"jobs"> }).jobId);
    expect(made.dedupeKey).toBe(`${made.repositoryId}_${made.createdAt}`);
    // What the Node worker wrote: a fractional retry time, its result, the
    // regeneration statistics, and log lines numbered by the clock.
    await t.run(async (ctx) => {
      await ctx.db.patch(regenerated, {
        runAt: T0 + 5_000 + 0.6180339 * 5_000,
        attempts: 1,
        lastError: "claude exited 1",
        result: { success: true, message: "Course generated", data: "25 documents" },
        regenerationStats: { inserted: 25, updated: 0, skipped: 0, rejected: 0, deleted: 3 },
        docsCount: 25,
      });
      await ctx.db.insert("jobLogs", { jobId: regenerated, ts: T0, seq: T0, level: "info", msg: "m" });
    });
    const repo = await t.run(async (ctx) => ctx.db.get(repositoryId));
    expect(repo).toMatchObject({ githubRepoId: "1296269", stats: { stars: 12 } });
    // The validation is real: the worker's former types are refused.
    await expect(t.run((ctx) => ctx.db.patch(repositoryId, { githubRepoId: 1 as never }))).rejects.toThrow();
    await expect(
      t.run((ctx) => ctx.db.patch(regenerated, { result: { success: true, data: {} as never } })),
    ).rejects.toThrow();
  });

  test("the worker adds only optional new fields, and its indexes are all in the schema", () => {
    const exported = JSON.parse((schema as unknown as { export(): string }).export()) as {
      tables: { tableName: string; indexes: { indexDescriptor: string; fields: string[] }[] }[];
    };
    for (const [table, indexes] of Object.entries(WORKER_INDEXES)) {
      const defined = exported.tables.find((x) => x.tableName === table)!.indexes;
      for (const [name, fields] of indexes) {
        expect(defined).toContainEqual({ indexDescriptor: name, fields: [...fields] });
      }
    }
    const webJobFields = Object.keys(schema.tables.jobs.validator.fields).filter(
      (f) => !(f in workerJobFields),
    );
    expect(webJobFields).toHaveLength(24);
    for (const added of [...Object.values(workerJobFields), ...Object.values(workerRepositoryFields)]) {
      expect(added.isOptional).toBe("optional");
    }
    const jobLogs = exported.tables.find((x) => x.tableName === "jobLogs")!.indexes;
    expect(jobLogs.map((i) => i.indexDescriptor)).toEqual(["by_job", "by_job_seq"]);
  });
});

describe("jobs the web app creates", () => {
  test("a job from Regenerate is claimed and runs to completed on the worker", async () => {
    const t = webSetup();
    const { userId, repositoryId } = await webUser(t);
    const jobId = await regenerate(t, userId, repositoryId);
    const [claimed] = await claim(t);
    expect(claimed!.job._id).toBe(jobId);
    const fence = { secret: SECRET, jobId, token: claimed!.leaseToken };
    for (let step = 0; step < 8; step++) {
      const started = await t.mutation(api.worker.steps.beginStep, { ...fence, step, worker: "w" });
      expect(started.repository!.githubRepoId).toBe("1296269");
      await t.mutation(api.worker.steps.finishStep, { ...fence, step, artifact: "{}" });
    }
    const doc = { slug: "01-intro", title: "Intro", chapterIndex: 1, kind: "chapter" as const };
    await t.mutation(api.worker.steps.upsertDocs, { ...fence, docs: [{ ...doc, content: "# Intro\n" }] });
    const done = await t.mutation(api.worker.queue.complete, {
      ...fence,
      result: { success: true, message: "Cours généré", data: "1 documents" },
      docsCount: 1,
    });
    expect(done).toMatchObject({ status: "completed", progress: "Terminé", docsCount: 1 });
    const latest = (await t.query(web.latest, { repositoryId })) as Doc<"jobs">;
    expect(latest._id).toBe(jobId);
  });

  test("the web's cancel stops the holder at its next renewal or step, and nothing revives the job", async () => {
    const t = webSetup();
    const { userId, repositoryId } = await webUser(t);
    const jobId = await regenerate(t, userId, repositoryId);
    const [claimed] = await claim(t);
    const fence = { secret: SECRET, jobId, token: claimed!.leaseToken };
    await t.mutation(api.worker.steps.beginStep, { ...fence, step: 0, worker: "w" });
    const { callbackToken } = await job(t, jobId);
    await t.mutation(web.updateStatus, { jobId, status: "canceled", callbackToken });
    // The renewal is the holder's cue to stop its running step, as for a cancel of ours;
    // it extends nothing.
    const before = (await job(t, jobId)).leaseUntil;
    const renewal = await t.mutation(api.worker.queue.renew, { ...fence, leaseMs: LEASE_MS });
    expect(renewal).toEqual({ leaseUntil: before, cancelRequested: true, status: "canceled" });
    const step = { ...fence, step: 1, worker: "w" };
    expect(await errorCode(t.mutation(api.worker.steps.beginStep, step))).toBe("cancel_requested");
    const result = { success: true };
    expect(
      await errorCode(t.mutation(api.worker.queue.complete, { ...fence, result, docsCount: 0 })),
    ).toBe("cancel_requested");
    // The holder's own cancel finds the job final and leaves it as the web wrote it.
    expect(await errorCode(t.mutation(api.worker.queue.markCanceled, fence))).toBe("cancel_requested");
    expect((await job(t, jobId)).error).toBeUndefined();
    // Its lease fields were left by the web: past them, the reclaim leaves it canceled.
    vi.setSystemTime(T0 + LEASE_MS + 1);
    await t.mutation(api.worker.queue.reclaimExpired, { secret: SECRET, limit: 10 });
    expect((await job(t, jobId)).status).toBe("canceled");
    expect(await claim(t)).toEqual([]);
  });

  test("a job Regenerate canceled never runs on, and its successor does", async () => {
    const t = webSetup();
    const { userId, repositoryId } = await webUser(t);
    const first = await regenerate(t, userId, repositoryId);
    const [held] = await claim(t);
    vi.setSystemTime(T0 + 1_000);
    const second = await regenerate(t, userId, repositoryId);
    expect((await job(t, first)).status).toBe("canceled");
    const fence = { secret: SECRET, jobId: first, token: held!.leaseToken, step: 0, worker: "w" };
    expect(await errorCode(t.mutation(api.worker.steps.beginStep, fence))).toBe("cancel_requested");
    vi.setSystemTime(T0 + LEASE_MS + 2_000);
    await t.mutation(api.worker.queue.reclaimExpired, { secret: SECRET, limit: 10 });
    expect((await claim(t)).map((c) => c.job._id)).toEqual([second]);
    expect((await job(t, first)).status).toBe("canceled");
  });

  test("a Node worker's fractional runAt is ready once its time has passed", async () => {
    const t = webSetup();
    const { userId, repositoryId } = await webUser(t);
    const jobId = await regenerate(t, userId, repositoryId);
    await t.run((ctx) => ctx.db.patch(jobId, { runAt: T0 + 5_000.37, attempts: 1 }));
    vi.setSystemTime(T0 + 5_000);
    expect(await claim(t)).toEqual([]);
    vi.setSystemTime(T0 + 5_001);
    const probe = await t.query(api.worker.queue.readyCount, { secret: SECRET });
    expect(probe.count).toBe(1);
    expect((await claim(t)).map((c) => c.job._id)).toEqual([jobId]);
  });

  test("clear stuck jobs fails a retrying job for good, and an operator's retry resumes it", async () => {
    const t = webSetup();
    const { userId, repositoryId } = await webUser(t);
    const jobId = await regenerate(t, userId, repositoryId);
    const [held] = await claim(t);
    const fence = { secret: SECRET, jobId, token: held!.leaseToken };
    await t.mutation(api.worker.steps.beginStep, { ...fence, step: 0, worker: "w" });
    await t.mutation(api.worker.steps.finishStep, { ...fence, step: 0, artifact: '{"c":1}' });
    const retrying = await t.mutation(api.worker.queue.fail, {
      ...fence,
      error: "network",
      permanent: false,
      jitterMs: 0,
    });
    expect(retrying.status).toBe("pending");
    const cleared = await t.mutation(web.clearAllStuckJobsForRepo, {
      repositoryFullName: "octocat/Hello-World",
    });
    expect(cleared).toMatchObject({ clearedJobsCount: 1 });
    vi.setSystemTime(T0 + 3_600_000);
    expect(await claim(t)).toEqual([]);
    expect((await job(t, jobId)).status).toBe("failed");
    await t.mutation(api.worker.jobs.retryJob, { secret: SECRET, jobId });
    const [again] = await claim(t);
    const start = await t.mutation(api.worker.steps.beginStep, {
      secret: SECRET,
      jobId,
      token: again!.leaseToken,
      step: 0,
      worker: "w",
    });
    expect(start.step.status).toBe("completed");
  });

  test("a job the Node worker held when it stopped is recovered once its lease expires, once", async () => {
    const t = webSetup();
    const { userId, repositoryId } = await webUser(t);
    const jobId = await regenerate(t, userId, repositoryId);
    await t.run((ctx) =>
      ctx.db.patch(jobId, {
        status: "running",
        lockedBy: "node-worker-7f3a",
        leaseUntil: T0 + 300_000,
        attempts: 1,
        progress: "Étape 2/6: Analyse des relations entre composants",
        currentStep: 2,
      }),
    );
    vi.setSystemTime(T0 + 299_999);
    expect(await t.mutation(api.worker.queue.reclaimExpired, { secret: SECRET, limit: 10 })).toEqual([]);
    expect(await claim(t)).toEqual([]);
    vi.setSystemTime(T0 + 300_001);
    const reclaim = () => t.mutation(api.worker.queue.reclaimExpired, { secret: SECRET, limit: 10 });
    expect(await reclaim()).toEqual([jobId]);
    expect(await reclaim()).toEqual([]);
    expect(await t.mutation(internal.worker.queue.reclaimExpiredInternal, {})).toBe(0);
    const claims = [...(await claim(t, "bridge-1")), ...(await claim(t, "bridge-2"))];
    expect(claims.map((c) => [c.job._id, c.job.lockedBy, c.job.attempts])).toEqual([
      [jobId, "bridge-1", 1],
    ]);
  });
});

describe("the server's clock", () => {
  test("a bridge whose clock is minutes off changes nothing about leases", async () => {
    const t = webSetup();
    const { userId, repositoryId } = await webUser(t);
    const jobId = await regenerate(t, userId, repositoryId);
    const skew = 10 * 60_000;
    const [held] = await t.mutation(api.worker.queue.claimBatch, {
      secret: SECRET,
      owner: "b",
      limit: 1,
      leaseMs: LEASE_MS,
      now: T0 - skew,
    });
    // The server's clock, not the caller's: convex-test moves it on by a millisecond
    // or two per transaction, never by minutes.
    const near = (ms: number) => expect.closeTo(ms, -2) as unknown as number;
    expect(held!.job.leaseUntil).toEqual(near(T0 + LEASE_MS));
    const ahead = { secret: SECRET, limit: 10, now: T0 + skew };
    expect(await t.mutation(api.worker.queue.reclaimExpired, ahead)).toEqual([]);
    const renewal = { secret: SECRET, jobId, token: held!.leaseToken, leaseMs: LEASE_MS };
    vi.setSystemTime(T0 + 1_000);
    expect(
      (await t.mutation(api.worker.queue.renew, { ...renewal, now: T0 - skew })).leaseUntil,
    ).toEqual(near(T0 + 1_000 + LEASE_MS));
    expect((await job(t, jobId)).status).toBe("claimed");
  });
});

describe("credentials", () => {
  test("the owner's stored GitHub token goes to the job's lease holder only", async () => {
    const t = webSetup();
    const stored = "enc_v1_0011:2233:4455";
    const { userId, repositoryId } = await webUser(t, stored);
    const jobId = await regenerate(t, userId, repositoryId);
    const [held] = await claim(t);
    const read = (leaseToken: string) =>
      t.query(api.worker.credentials.ownerGitHubToken, { secret: SECRET, jobId, leaseToken });
    expect(await read(held!.leaseToken)).toBe(stored);
    expect(await errorCode(read("stale"))).toBe("lease_lost");
    await t.run((ctx) => ctx.db.patch(userId, { githubAccessToken: undefined }));
    expect(await read(held!.leaseToken)).toBeNull();
    const { callbackToken } = await job(t, jobId);
    await t.mutation(web.updateStatus, { jobId, status: "canceled", callbackToken });
    expect(await errorCode(read(held!.leaseToken))).toBe("cancel_requested");
  });
});

describe("courses", () => {
  async function runCourse(t: T, userId: Id<"users">, repositoryId: Id<"repositories">, docs: number) {
    const jobId = await regenerate(t, userId, repositoryId);
    const [held] = await claim(t);
    const fence = { secret: SECRET, jobId, token: held!.leaseToken };
    const specs = Array.from({ length: docs }, (_, i) => ({
      slug: `${String(i + 1).padStart(2, "0")}-c`,
      title: `Chapter ${i + 1}`,
      chapterIndex: i + 1,
      kind: "chapter" as const,
      content: `# Chapter ${i + 1}\n`,
    }));
    for (let i = 0; i < specs.length; i += 100) {
      await t.mutation(api.worker.steps.upsertDocs, { ...fence, docs: specs.slice(i, i + 100) });
    }
    const result = { success: true, data: `${docs} documents` };
    await t.mutation(api.worker.queue.complete, { ...fence, result, docsCount: docs });
    return jobId;
  }

  test("a completion removes the older courses in bounded passes, and the latest stays", async () => {
    const t = webSetup();
    const { userId, repositoryId } = await webUser(t);
    const first = await runCourse(t, userId, repositoryId, 150);
    vi.setSystemTime(T0 + 1_000);
    const second = await runCourse(t, userId, repositoryId, 3);
    const docsOf = async (jobId: Id<"jobs">) =>
      ((await t.query(web.listByJobId, { jobId })) as unknown[]).length;
    // One transaction deleted a bounded number; the scheduler finishes the rest.
    expect(await docsOf(first)).toBe(150 - 64);
    await t.finishAllScheduledFunctions(vi.runAllTimers);
    expect(await docsOf(first)).toBe(0);
    expect(await docsOf(second)).toBe(3);
    expect(((await t.query(web.latest, { repositoryId })) as Doc<"jobs">)._id).toBe(second);
  });
});
