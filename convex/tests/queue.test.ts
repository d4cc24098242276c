import { afterEach, describe, expect, test, vi } from "vitest";
import { api } from "../functions/_generated/api";
import { backoffMs } from "../functions/worker/lib/jobs";
import { LEASE_MS, SECRET, T0, claimOne, errorCode, newJob, newRepository, setup, ownerOf } from "./setup";

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("claiming", () => {
  // Not a race: convex-test runs one transaction at a time, so the second claim
  // starts after the first committed and this checks only that it then skips the
  // claimed job. A deployment runs claims at once; each is a serializable
  // transaction, and Convex's optimistic concurrency control reruns the one whose
  // read of the pending jobs the other's commit changed. SQLite's real race is in
  // tests/integration/test_sqlite_claim_race.py.
  test("two claims sent at once: the one run second finds the job taken", async () => {
    const t = setup();
    const repo = await newRepository(t);
    const jobId = await newJob(t, repo);
    const claim = (owner: string) =>
      t.mutation(api.worker.queue.claimBatch, {
        secret: SECRET,
        owner,
        limit: 5,
        leaseMs: LEASE_MS,
        now: T0,
      });
    const [a, b] = await Promise.all([claim("bridge-a"), claim("bridge-b")]);
    const winners = [...a, ...b];
    expect(winners).toHaveLength(1);
    expect(winners[0]!.job._id).toBe(jobId);
    const job = await t.query(api.worker.jobs.getJob, { secret: SECRET, jobId });
    expect(job.status).toBe("claimed");
    expect(job.lockedBy).toBe(a.length === 1 ? "bridge-a" : "bridge-b");
    expect(job.leaseUntil).toBe(T0 + LEASE_MS);
    expect(job.leaseToken).toBe(winners[0]!.leaseToken);
  });

  test("claims oldest ready first and skips jobs whose runAt is in the future", async () => {
    const t = setup();
    const repo = await newRepository(t);
    const later = await newJob(t, repo, { now: T0 + 10, runAt: T0 + 60_000 });
    const second = await newJob(t, repo, { now: T0 + 5 });
    const first = await newJob(t, repo, { now: T0 + 1 });
    const claims = await t.mutation(api.worker.queue.claimBatch, {
      secret: SECRET,
      owner: "b",
      limit: 10,
      leaseMs: LEASE_MS,
      now: T0 + 20,
    });
    expect(claims.map((c) => c.job._id)).toEqual([first, second]);
    expect(new Set(claims.map((c) => c.leaseToken)).size).toBe(2);
    expect(claims[0]!.leaseToken).toMatch(/^[0-9a-f]{32}$/);
    const waiting = await t.query(api.worker.jobs.getJob, { secret: SECRET, jobId: later });
    expect(waiting.status).toBe("pending");
  });

  test("a pending job written without runAt (by older code) is ready", async () => {
    const t = setup();
    const repositoryId = await newRepository(t);
    const userId = await ownerOf(t, repositoryId);
    const jobId = await t.run((ctx) =>
      ctx.db.insert("jobs", {
        userId,
        repositoryId,
        status: "pending",
        prompt: "",
        callbackToken: "",
        createdAt: T0,
      }),
    );
    expect((await claimOne(t, "a"))?.job._id).toBe(jobId);
  });

  test("a claim of zero jobs claims nothing", async () => {
    const t = setup();
    await newJob(t, await newRepository(t));
    const claims = await t.mutation(api.worker.queue.claimBatch, {
      secret: SECRET,
      owner: "b",
      limit: 0,
      leaseMs: LEASE_MS,
      now: T0,
    });
    expect(claims).toEqual([]);
  });
});

describe("fencing", () => {
  test("every fenced write with a wrong token is refused as lease_lost", async () => {
    const t = setup();
    const jobId = await newJob(t, await newRepository(t));
    await claimOne(t, "a");
    const token = "0".repeat(32);
    const base = { secret: SECRET, jobId, token, now: T0 + 1 };
    const calls: Promise<unknown>[] = [
      t.mutation(api.worker.queue.renew, { ...base, leaseMs: LEASE_MS }),
      t.mutation(api.worker.queue.release, { ...base, reason: "stop" }),
      t.mutation(api.worker.queue.markCanceled, base),
      t.mutation(api.worker.queue.complete, { ...base, result: { success: true }, docsCount: 0 }),
      t.mutation(api.worker.queue.fail, { ...base, error: "x", permanent: false, jitterMs: 0 }),
      t.mutation(api.worker.steps.beginStep, { ...base, step: 1, worker: "w" }),
      t.mutation(api.worker.steps.finishStep, { ...base, step: 1, artifact: "{}" }),
      t.mutation(api.worker.steps.upsertDocs, { ...base, docs: [] }),
    ];
    for (const call of calls) expect(await errorCode(call)).toBe("lease_lost");
    const job = await t.query(api.worker.jobs.getJob, { secret: SECRET, jobId });
    expect(job.status).toBe("claimed");
    expect(job.updatedAt).toBe(T0);
  });

  test("a holder whose lease was reclaimed and re-claimed is fenced out", async () => {
    const t = setup();
    const jobId = await newJob(t, await newRepository(t));
    const stale = (await claimOne(t, "a"))!;
    const expired = T0 + LEASE_MS + 1;
    expect(
      await t.mutation(api.worker.queue.reclaimExpired, { secret: SECRET, limit: 10, now: expired }),
    ).toEqual([jobId]);
    const fresh = (await claimOne(t, "b", expired))!;
    expect(fresh.leaseToken).not.toBe(stale.leaseToken);
    const err = await errorCode(
      t.mutation(api.worker.queue.renew, {
        secret: SECRET,
        jobId,
        token: stale.leaseToken,
        leaseMs: 1,
        now: expired,
      }),
    );
    expect(err).toBe("lease_lost");
    await t.mutation(api.worker.queue.renew, {
      secret: SECRET,
      jobId,
      token: fresh.leaseToken,
      leaseMs: 1000,
      now: expired,
    });
  });

  test("an unknown job is not_found", async () => {
    const t = setup();
    const err = await errorCode(
      t.mutation(api.worker.queue.renew, {
        secret: SECRET,
        jobId: "nope",
        token: "t",
        leaseMs: 1,
        now: T0,
      }),
    );
    expect(err).toBe("not_found");
  });
});

describe("cancel", () => {
  test("a canceled job is never revived by renew, complete, fail or a step", async () => {
    const t = setup();
    const jobId = await newJob(t, await newRepository(t));
    const { leaseToken: token } = (await claimOne(t, "a"))!;
    const requested = await t.mutation(api.worker.jobs.requestCancel, {
      secret: SECRET,
      jobId,
      now: T0 + 1,
    });
    expect(requested.status).toBe("claimed");
    expect(requested.cancelRequested).toBe(true);
    // The holder learns of the request on its next renewal and finishes the cancel.
    const lease = await t.mutation(api.worker.queue.renew, {
      secret: SECRET,
      jobId,
      token,
      leaseMs: LEASE_MS,
      now: T0 + 2,
    });
    expect(lease.cancelRequested).toBe(true);
    // No step may start once the cancel was requested.
    expect(
      await errorCode(
        t.mutation(api.worker.steps.beginStep, {
          secret: SECRET,
          jobId,
          token,
          step: 1,
          worker: "w",
          now: T0 + 2,
        }),
      ),
    ).toBe("cancel_requested");
    const canceled = await t.mutation(api.worker.queue.markCanceled, {
      secret: SECRET,
      jobId,
      token,
      now: T0 + 3,
    });
    expect(canceled.status).toBe("canceled");
    expect(canceled.lockedBy).toBeUndefined();
    expect(canceled.leaseUntil).toBeUndefined();
    const base = { secret: SECRET, jobId, token, now: T0 + 4 };
    for (const call of [
      t.mutation(api.worker.queue.renew, { ...base, leaseMs: LEASE_MS }),
      t.mutation(api.worker.queue.complete, { ...base, result: { success: true }, docsCount: 1 }),
      t.mutation(api.worker.queue.fail, { ...base, error: "late", permanent: false, jitterMs: 0 }),
      t.mutation(api.worker.steps.beginStep, { ...base, step: 2, worker: "w" }),
    ]) {
      expect(await errorCode(call)).toBe("lease_lost");
    }
    const job = await t.query(api.worker.jobs.getJob, { secret: SECRET, jobId });
    expect(job.status).toBe("canceled");
    expect(job.completedAt).toBe(T0 + 3);
  });

  test("a pending job is canceled at once, a final one is left as it is", async () => {
    const t = setup();
    const repo = await newRepository(t);
    const jobId = await newJob(t, repo);
    const canceled = await t.mutation(api.worker.jobs.requestCancel, {
      secret: SECRET,
      jobId,
      now: T0 + 1,
    });
    expect(canceled.status).toBe("canceled");
    expect(canceled.progress).toBe("Annulé");
    const again = await t.mutation(api.worker.jobs.requestCancel, { secret: SECRET, jobId, now: T0 + 2 });
    expect(again.updatedAt).toBe(T0 + 1);
  });
});

describe("failure", () => {
  test("a transient failure backs off min(5 s * 2^(n-1), 10 min) plus jitter, then dies", async () => {
    const t = setup();
    const jobId = await newJob(t, await newRepository(t), { maxAttempts: 3 });
    let now = T0;
    for (const attempts of [1, 2]) {
      const { leaseToken: token } = (await claimOne(t, "a", now))!;
      const job = await t.mutation(api.worker.queue.fail, {
        secret: SECRET,
        jobId,
        token,
        error: "network",
        permanent: false,
        jitterMs: 250,
        now,
      });
      expect(job.status).toBe("pending");
      expect(job.attempts).toBe(attempts);
      expect(job.runAt).toBe(now + 5_000 * 2 ** (attempts - 1) + 250);
      expect(job.lockedBy).toBeUndefined();
      expect(job.leaseToken).toBeUndefined();
      // Not ready before its runAt.
      expect(await claimOne(t, "a", job.runAt! - 1)).toBeUndefined();
      now = job.runAt!;
    }
    const { leaseToken: token } = (await claimOne(t, "a", now))!;
    const dead = await t.mutation(api.worker.queue.fail, {
      secret: SECRET,
      jobId,
      token,
      error: "network",
      permanent: false,
      jitterMs: 0,
      now,
    });
    expect(dead.status).toBe("dead");
    expect(dead.attempts).toBe(3);
    expect(dead.progress).toBe("Échec définitif");
    const logs = await t.query(api.worker.steps.getLogs, { secret: SECRET, jobId });
    // Each claim writes its own line ("Claimed by a"), between the attempts' endings.
    expect(logs.map((l) => l.msg)).toEqual([
      "Claimed by a",
      "Attempt 1 failed, retry in 5.2 s: network",
      "Claimed by a",
      "Attempt 2 failed, retry in 10.2 s: network",
      "Claimed by a",
      "Dead after 3 attempts: network",
    ]);
    expect(logs.map((l) => l.seq)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  test("a permanent failure fails at once", async () => {
    const t = setup();
    const jobId = await newJob(t, await newRepository(t));
    const { leaseToken: token } = (await claimOne(t, "a"))!;
    const job = await t.mutation(api.worker.queue.fail, {
      secret: SECRET,
      jobId,
      token,
      error: "bad url",
      permanent: true,
      jitterMs: 0,
      now: T0,
    });
    expect(job.status).toBe("failed");
    expect(job.error).toBe("bad url");
    expect(job.attempts).toBe(1);
  });

  test("the backoff schedule matches store/backoff.py", () => {
    expect([0, 1, 2, 3, 7, 8, 50].map(backoffMs)).toEqual([
      0, 5_000, 10_000, 20_000, 320_000, 600_000, 600_000,
    ]);
  });
});

describe("completion", () => {
  test("complete is idempotent for its holder and records the result", async () => {
    const t = setup();
    const repo = await newRepository(t);
    const jobId = await newJob(t, repo);
    const { leaseToken: token } = (await claimOne(t, "a"))!;
    const args = {
      secret: SECRET,
      jobId,
      token,
      result: { success: true, message: "ok", data: "3 documents" },
      docsCount: 3,
      now: T0 + 9,
    };
    const done = await t.mutation(api.worker.queue.complete, args);
    expect(done.status).toBe("completed");
    expect(done.progress).toBe("Terminé");
    expect(done.lockedBy).toBeUndefined();
    expect(done.result).toEqual(args.result);
    const again = await t.mutation(api.worker.queue.complete, { ...args, now: T0 + 99 });
    expect(again.completedAt).toBe(T0 + 9);
    const repository = await t.query(api.worker.jobs.getRepository, {
      secret: SECRET,
      repositoryId: repo,
    });
    expect(repository.lastAnalyzedAt).toBe(T0 + 9);
  });

  test("complete also completes a started finalize step", async () => {
    const t = setup();
    const jobId = await newJob(t, await newRepository(t));
    const { leaseToken: token } = (await claimOne(t, "a"))!;
    await t.mutation(api.worker.steps.beginStep, {
      secret: SECRET,
      jobId,
      token,
      step: 7,
      worker: "w",
      now: T0 + 1,
    });
    await t.mutation(api.worker.queue.complete, {
      secret: SECRET,
      jobId,
      token,
      result: null,
      docsCount: 0,
      now: T0 + 2,
    });
    const steps = await t.query(api.worker.steps.getSteps, { secret: SECRET, jobId });
    expect(steps.map((s) => [s.step, s.status, s.completedAt])).toEqual([[7, "completed", T0 + 2]]);
  });
});

describe("reclaim", () => {
  test("expired leases go back to pending, live ones stay", async () => {
    const t = setup();
    const repo = await newRepository(t);
    const expiring = await newJob(t, repo, { now: T0 });
    await claimOne(t, "a", T0);
    const live = await newJob(t, repo, { now: T0 + 1 });
    await claimOne(t, "b", T0 + 100_000);
    const now = T0 + LEASE_MS + 1;
    const ids = await t.mutation(api.worker.queue.reclaimExpired, { secret: SECRET, limit: 10, now });
    expect(ids).toEqual([expiring]);
    const job = await t.query(api.worker.jobs.getJob, { secret: SECRET, jobId: expiring });
    expect(job).toMatchObject({ status: "pending", runAt: now, lastError: "lease expired" });
    expect(job.leaseToken).toBeUndefined();
    const held = await t.query(api.worker.queue.heldJobs, { secret: SECRET, owner: "b", limit: 10 });
    expect(held.map((j) => j._id)).toEqual([live]);
  });

  test("a final job with a stale lease (written by older code) is cleaned, not revived", async () => {
    const t = setup();
    const repo = await newRepository(t);
    const jobId = await newJob(t, repo);
    await t.run(async (ctx) => {
      await ctx.db.patch(jobId, { status: "completed", lockedBy: "old", leaseUntil: T0 });
    });
    const ids = await t.mutation(api.worker.queue.reclaimExpired, {
      secret: SECRET,
      limit: 10,
      now: T0 + 1,
    });
    expect(ids).toEqual([]);
    const job = await t.query(api.worker.jobs.getJob, { secret: SECRET, jobId });
    expect(job.status).toBe("completed");
    expect(job.leaseUntil).toBeUndefined();
  });
});
