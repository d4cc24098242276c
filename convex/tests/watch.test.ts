// The query a bridge subscribes to (queue.ts `watch`): jobs due now, when the next
// falls due, and the holder's jobs ended or asked to stop under it.
import { afterEach, describe, expect, test, vi } from "vitest";
import { api } from "../functions/_generated/api";
import { SECRET, T0, claimOne, newJob, newRepository, setup } from "./setup";

afterEach(() => {
  vi.unstubAllEnvs();
});

const watch = (t: ReturnType<typeof setup>, owner: string, now = T0) =>
  t.query(api.worker.queue.watch, { secret: SECRET, owner, now });

describe("the bridge's watch", () => {
  test("names the jobs due now, oldest first, and the time of the next one", async () => {
    const t = setup();
    const repo = await newRepository(t);
    const first = await newJob(t, repo, { runAt: T0 - 10 });
    const second = await newJob(t, repo, { runAt: T0 });
    await newJob(t, repo, { runAt: T0 + 9_000 });
    await newJob(t, repo, { runAt: T0 + 5_000 });
    expect(await watch(t, "b")).toEqual({
      ready: [first, second],
      nextRunAt: T0 + 5_000,
      ended: [],
      cancelRequested: [],
    });
    const later = await watch(t, "b", T0 + 5_000);
    expect(later.ready).toHaveLength(3);
    expect(later.nextRunAt).toBe(T0 + 9_000);
  });

  test("a claimed job leaves the ready list", async () => {
    const t = setup();
    const repo = await newRepository(t);
    await newJob(t, repo);
    await claimOne(t, "b");
    expect(await watch(t, "b")).toMatchObject({ ready: [], nextRunAt: null });
  });

  test("shows a held job the web app canceled under its holder, and only to its holder", async () => {
    const t = setup();
    const repo = await newRepository(t);
    const jobId = await newJob(t, repo);
    await claimOne(t, "b");
    // The web's cancel: status written, lease fields left as they are.
    await t.run((ctx) => ctx.db.patch(jobId, { status: "canceled", updatedAt: T0 + 1 }));
    expect((await watch(t, "b")).ended).toEqual([{ jobId, status: "canceled" }]);
    expect((await watch(t, "other")).ended).toEqual([]);
  });

  test("shows a cancel requested on a running held job", async () => {
    const t = setup();
    const repo = await newRepository(t);
    const jobId = await newJob(t, repo);
    await claimOne(t, "b");
    await t.mutation(api.worker.jobs.requestCancel, { secret: SECRET, jobId, now: T0 + 1 });
    expect((await watch(t, "b")).cancelRequested).toEqual([jobId]);
  });

  test("a job retried later is not ready, and gives its runAt", async () => {
    const t = setup();
    const repo = await newRepository(t);
    const jobId = await newJob(t, repo);
    const claim = await claimOne(t, "b");
    const failed = await t.mutation(api.worker.queue.fail, {
      secret: SECRET, jobId, token: claim!.leaseToken, error: "boom", permanent: false,
      jitterMs: 0, now: T0 + 1,
    }); // prettier-ignore
    expect(await watch(t, "b", T0 + 2)).toMatchObject({ ready: [], nextRunAt: failed.runAt });
    expect((await watch(t, "b", failed.runAt!)).ready).toEqual([jobId]);
  });
});
