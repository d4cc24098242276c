// Chapters stored as their reviews end (steps:publishChapters): read by the web's
// docs.listByJobId while the job runs, fenced like every step write, and within a
// transaction's real limits.
import { makeFunctionReference } from "convex/server";
import { describe, expect, test } from "vitest";
import { api } from "../functions/_generated/api";
import type { Id } from "../functions/_generated/dataModel";
import { SECRET, T0, type T, claimOne, errorCode, newJob, newRepository, setup } from "./setup";

const listByJobId = makeFunctionReference<"query">("webapp/docs:listByJobId");

function chapter(index: number, content = "Body.\n") {
  return {
    slug: `${String(index).padStart(2, "0")}-c${index}`,
    title: `C${index}`,
    chapterIndex: index,
    kind: "chapter" as const,
    content,
    sourceKey: `repo:chapter:c${index}`,
  };
}

async function runningReview(t: T) {
  const jobId = await newJob(t, await newRepository(t));
  const { leaseToken: token } = (await claimOne(t, "a"))!;
  const base = { secret: SECRET, jobId, token };
  await t.mutation(api.worker.steps.beginStep, { ...base, step: 5, worker: "w", now: T0 + 1 });
  return { jobId, token, base };
}

async function job(t: T, jobId: Id<"jobs">) {
  return t.query(api.worker.jobs.getJob, { secret: SECRET, jobId });
}

async function shown(t: T, jobId: Id<"jobs">): Promise<string[]> {
  const docs = (await t.query(listByJobId, { jobId })) as { slug: string }[];
  return docs.map((d) => d.slug);
}

describe("chapters as they are reviewed", () => {
  test("each one shows on the course page at once, with the running status and the count", async () => {
    const t = setup();
    const { jobId, base } = await runningReview(t);
    const publish = api.worker.steps.publishChapters;
    expect(await t.mutation(publish, { ...base, docs: [chapter(3)], ready: 1, total: 8, now: T0 + 2 })).toBe(1);
    expect(await shown(t, jobId)).toEqual(["03-c3"]);
    expect(await job(t, jobId)).toMatchObject({
      status: "running",
      currentStep: 5,
      progress: "Chapitres prêts : 1 sur 8",
    });
    expect((await job(t, jobId)).docsCount).toBeUndefined();
    await t.mutation(publish, { ...base, docs: [chapter(1), chapter(3, "New.\n")], ready: 2, total: 8, now: T0 + 3 });
    // Creation order; a chapter stored again keeps its place and its key.
    const docs = (await t.query(listByJobId, { jobId })) as ReturnType<typeof chapter>[];
    expect(docs.map((d) => [d.slug, d.content, d.sourceKey])).toEqual([
      ["03-c3", "New.\n", "repo:chapter:c3"],
      ["01-c1", "Body.\n", "repo:chapter:c1"],
    ]);
    expect((await job(t, jobId)).progress).toBe("Chapitres prêts : 2 sur 8");
  });

  test("the job stays running through the steps after, so the page keeps its progress", async () => {
    const t = setup();
    const { jobId, base } = await runningReview(t);
    await t.mutation(api.worker.steps.publishChapters, { ...base, docs: [chapter(1)], ready: 1, total: 1, now: T0 + 2 });
    for (const step of [6, 7]) {
      await t.mutation(api.worker.steps.beginStep, { ...base, step, worker: "w", now: T0 + step });
      expect(await job(t, jobId)).toMatchObject({ status: "running", currentStep: 6 });
    }
  });

  test("a stale holder, a canceled job and a requested cancel store nothing", async () => {
    const t = setup();
    const { jobId, base } = await runningReview(t);
    const publish = (token: string) =>
      t.mutation(api.worker.steps.publishChapters, { ...base, token, docs: [chapter(1)], ready: 1, total: 1, now: T0 + 2 });
    expect(await errorCode(publish("not-the-token"))).toBe("lease_lost");
    await t.run(async (ctx) => ctx.db.patch(jobId, { cancelRequested: true }));
    expect(await errorCode(publish(base.token))).toBe("cancel_requested");
    // The web's cancel writes the status itself, leaving the lease.
    await t.run(async (ctx) => ctx.db.patch(jobId, { status: "canceled", cancelRequested: undefined }));
    expect(await errorCode(publish(base.token))).toBe("cancel_requested");
    expect(await shown(t, jobId)).toEqual([]);
  });

  test("only chapters are stored before the save", async () => {
    const t = setup();
    const { jobId, base } = await runningReview(t);
    const toc = { ...chapter(0), slug: "index", kind: "toc" as const };
    const call = t.mutation(api.worker.steps.publishChapters, { ...base, docs: [toc], ready: 0, total: 1, now: T0 + 2 });
    expect(await errorCode(call)).toBe("invalid");
    expect(await shown(t, jobId)).toEqual([]);
  });

  test("four parts of 900 kB fit one call within a transaction's real limits", async () => {
    const t = setup({});
    const { jobId, base } = await runningReview(t);
    const parts = [1, 2, 3, 4].map((k) => ({ ...chapter(1, String(k).repeat(900_000)), slug: `01-c1-part-${k}` }));
    await t.mutation(api.worker.steps.publishChapters, { ...base, docs: parts, ready: 1, total: 1, now: T0 + 2 });
    expect(await shown(t, jobId)).toHaveLength(4);
  });

  test("removeDocs deletes the named docs of the job, at most eight 900 kB docs a call, fenced", async () => {
    const t = setup({});
    const { jobId, base } = await runningReview(t);
    const parts = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((k) => ({ ...chapter(1, String(k).repeat(900_000)), slug: `01-c1-part-${k}` }));
    for (let i = 0; i < parts.length; i += 4) {
      await t.mutation(api.worker.steps.publishChapters, { ...base, docs: parts.slice(i, i + 4), ready: 1, total: 1, now: T0 + 2 });
    }
    const slugs = parts.map((p) => p.slug);
    expect(await errorCode(t.mutation(api.worker.steps.removeDocs, { ...base, slugs, now: T0 + 3 }))).toBe("invalid");
    expect(await t.mutation(api.worker.steps.removeDocs, { ...base, slugs: slugs.slice(0, 8), now: T0 + 3 })).toBe(8);
    expect(await errorCode(t.mutation(api.worker.steps.removeDocs, { ...base, token: "stale", slugs: slugs.slice(8), now: T0 + 4 }))).toBe("lease_lost");
    expect(await shown(t, jobId)).toEqual(["01-c1-part-9"]);
  });
});
