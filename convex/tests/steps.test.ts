import { getDocumentSize } from "convex/values";
import { afterEach, describe, expect, test, vi } from "vitest";
import { api } from "../functions/_generated/api";
import { SECRET, T0, claimOne, errorCode, newJob, newRepository, setup } from "./setup";

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("steps", () => {
  test("start and finish record the step, the status and the progress text", async () => {
    const t = setup();
    const jobId = await newJob(t, await newRepository(t));
    const { leaseToken: token } = (await claimOne(t, "a"))!;
    const base = { secret: SECRET, jobId, token, now: T0 + 1 };
    const expectations: [number, string, string][] = [
      [0, "cloning", "Clonage du dépôt..."],
      [3, "analyzing", "Étape 3/6: Détermination de l'ordre optimal des chapitres"],
      [7, "gathering", "Sauvegarde des résultats..."],
    ];
    for (const [step, status, progress] of expectations) {
      const { step: record } = await t.mutation(api.worker.steps.beginStep, {
        ...base,
        step,
        worker: "w1",
      });
      expect(record).toMatchObject({ step, status: "started", runs: 1, worker: "w1" });
      const job = await t.query(api.worker.jobs.getJob, { secret: SECRET, jobId });
      expect([job.status, job.progress, job.currentStep]).toEqual([
        status,
        progress,
        Math.min(step, 6),
      ]);
    }
    await t.mutation(api.worker.steps.finishStep, { ...base, step: 3, artifact: '{"order":[1]}' });
    await t.mutation(api.worker.steps.finishStep, { ...base, step: 3, artifact: '{"order":[1]}' });
    // A completed step is returned unchanged, so the caller skips it.
    const again = await t.mutation(api.worker.steps.beginStep, { ...base, step: 3, worker: "w2" });
    expect(again.step).toMatchObject({
      status: "completed",
      runs: 1,
      worker: "w1",
      artifact: '{"order":[1]}',
    });
    expect(again.job).toEqual(await t.query(api.worker.jobs.getJob, { secret: SECRET, jobId }));
    expect(again.job.currentStep).toBe(6);
    const rerun = await t.mutation(api.worker.steps.beginStep, { ...base, step: 0, worker: "w2" });
    expect(rerun.step.runs).toBe(2);
    const steps = await t.query(api.worker.steps.getSteps, { secret: SECRET, jobId });
    expect(steps.map((s) => [s.step, s.status])).toEqual([
      [0, "started"],
      [3, "completed"],
      [7, "started"],
    ]);
    expect(
      await errorCode(t.mutation(api.worker.steps.beginStep, { ...base, step: 8, worker: "w" })),
    ).toBe("invalid");
  });

  test("beginStep returns the step, the patched job, its repository and every step of the job", async () => {
    const t = setup();
    const repositoryId = await newRepository(t);
    const jobId = await newJob(t, repositoryId);
    const { leaseToken: token } = (await claimOne(t, "a"))!;
    const base = { secret: SECRET, jobId, token };
    await t.mutation(api.worker.steps.beginStep, { ...base, step: 0, worker: "w1", now: T0 + 1 });
    const artifact = '{"path":"/tmp/repo"}';
    await t.mutation(api.worker.steps.finishStep, { ...base, step: 0, artifact, now: T0 + 2 });
    const bundle = await t.mutation(api.worker.steps.beginStep, {
      ...base,
      step: 1,
      worker: "w1",
      now: T0 + 3,
    });
    expect(bundle.step).toMatchObject({ step: 1, status: "started", runs: 1, worker: "w1" });
    expect(bundle.job).toMatchObject({
      _id: jobId,
      status: "analyzing",
      currentStep: 1,
      progress: "Étape 1/6: Extraction des abstractions principales",
      updatedAt: T0 + 3,
    });
    expect(bundle.job).toEqual(await t.query(api.worker.jobs.getJob, { secret: SECRET, jobId }));
    expect(bundle.repository).toEqual(
      await t.query(api.worker.jobs.getRepository, { secret: SECRET, repositoryId }),
    );
    expect(bundle.steps.map((s) => [s.step, s.status, s.runs, s.artifact])).toEqual([
      [0, "completed", 1, artifact],
      [1, "started", 1, undefined],
    ]);
    expect(bundle.steps[1]).toEqual(bundle.step);
  });

  test("beginStep answers with the records of the reuse key it is given", async () => {
    const t = setup();
    const repo = await newRepository(t);
    const first = await newJob(t, repo);
    const { leaseToken: firstToken } = (await claimOne(t, "a"))!;
    const kept = { kind: "step" as const, key: "course", variant: first, value: '{"d":1}' };
    const fence = { secret: SECRET, jobId: first, token: firstToken, now: T0 + 1 };
    await t.mutation(api.worker.reuse.saveReuse, { ...fence, ...kept });
    const elsewhere = await newJob(t, await newRepository(t, "evil/other"), { now: T0 + 2 });
    const { leaseToken: otherToken } = (await claimOne(t, "b", T0 + 2))!;
    const other = { secret: SECRET, jobId: elsewhere, token: otherToken, now: T0 + 3 };
    await t.mutation(api.worker.reuse.saveReuse, { ...other, ...kept, variant: elsewhere });
    const second = await newJob(t, repo, { now: T0 + 4 });
    const { leaseToken: token } = (await claimOne(t, "c", T0 + 4))!;
    const base = { secret: SECRET, jobId: second, token, worker: "w", now: T0 + 5 };
    const reuseKey = { kind: "step" as const, key: "course" };
    const start = await t.mutation(api.worker.steps.beginStep, { ...base, step: 7, reuseKey });
    expect(start.reuse).toEqual([{ ...kept, jobId: first, createdAt: T0 + 1 }]);
    const found = await t.query(api.worker.reuse.findReuse, {
      secret: SECRET,
      jobId: second,
      token,
      ...reuseKey,
    });
    expect(start.reuse).toEqual(found);
    // The save step also hears whether the job has docs to read back; no other step.
    expect(start.hasDocs).toBe(false);
    const plain = await t.mutation(api.worker.steps.beginStep, { ...base, step: 0 });
    expect(plain.reuse).toEqual([]);
    expect(plain.hasDocs).toBeUndefined();
    const chapter = { slug: "01-a", title: "A", chapterIndex: 1, kind: "chapter" as const };
    const held = { secret: SECRET, jobId: second, token, now: T0 + 6 };
    await t.mutation(api.worker.steps.upsertDocs, { ...held, docs: [{ ...chapter, content: "x" }] });
    const again = await t.mutation(api.worker.steps.beginStep, { ...base, step: 7 });
    expect(again.hasDocs).toBe(true);
  });

  test("beginStep gives a null repository when the job's repository was deleted", async () => {
    const t = setup();
    const repositoryId = await newRepository(t);
    const jobId = await newJob(t, repositoryId);
    const { leaseToken: token } = (await claimOne(t, "a"))!;
    await t.run((ctx) => ctx.db.delete(repositoryId));
    const bundle = await t.mutation(api.worker.steps.beginStep, {
      secret: SECRET,
      jobId,
      token,
      step: 0,
      worker: "w1",
      now: T0 + 1,
    });
    expect(bundle.repository).toBeNull();
    expect(bundle.job.status).toBe("cloning");
    expect(bundle.steps).toEqual([bundle.step]);
  });

  test("log seq is monotonic per job and pages by afterSeq", async () => {
    const t = setup();
    const repo = await newRepository(t);
    const a = await newJob(t, repo);
    const b = await newJob(t, repo);
    for (let i = 0; i < 5; i++) {
      const seq = await t.mutation(api.worker.steps.appendLog, {
        secret: SECRET,
        jobId: a,
        level: "info",
        msg: `a${i}`,
        now: T0,
      });
      expect(seq).toBe(i);
    }
    expect(
      await t.mutation(api.worker.steps.appendLog, {
        secret: SECRET,
        jobId: b,
        level: "error",
        msg: "b0",
        now: T0,
      }),
    ).toBe(0);
    const page = await t.query(api.worker.steps.getLogs, {
      secret: SECRET,
      jobId: a,
      afterSeq: 1,
      limit: 2,
    });
    expect(page.map((l) => l.msg)).toEqual(["a2", "a3"]);
  });

  test("docs are upserted by (jobId, slug) and read back page by page", async () => {
    const t = setup();
    const jobId = await newJob(t, await newRepository(t));
    const { leaseToken: token } = (await claimOne(t, "a"))!;
    const doc = (slug: string, chapterIndex: number, content = "x") => ({
      slug,
      title: slug,
      chapterIndex,
      kind: "chapter" as const,
      content,
    });
    const docs = Array.from({ length: 12 }, (_, i) => doc(`c${i}`, i));
    const base = { secret: SECRET, jobId, token };
    expect(await t.mutation(api.worker.steps.upsertDocs, { ...base, docs, now: T0 })).toBe(12);
    expect(
      await t.mutation(api.worker.steps.upsertDocs, { ...base, docs: [doc("c0", 0, "new")], now: T0 + 1 }),
    ).toBe(1);
    const seen: { slug: string; content: string; createdAt: number; updatedAt?: number }[] = [];
    let cursor: string | null = null;
    for (;;) {
      const page: { page: typeof seen; isDone: boolean; continueCursor: string } = await t.query(
        api.worker.steps.getDocs,
        { secret: SECRET, jobId, paginationOpts: { numItems: 5, cursor } },
      );
      seen.push(...page.page);
      if (page.isDone) break;
      cursor = page.continueCursor;
    }
    expect(seen).toHaveLength(12);
    const c0 = seen.find((d) => d.slug === "c0")!;
    expect([c0.content, c0.createdAt, c0.updatedAt]).toEqual(["new", T0, T0 + 1]);
  });

  test("an artifact larger than a document is kept in pieces under 1 MiB, read back in order, replaced whole and purged", async () => {
    // The real transaction limits (16 MiB read and written), not convex-test's none.
    const t = setup({});
    const jobId = await newJob(t, await newRepository(t));
    const { leaseToken: token } = (await claimOne(t, "a"))!;
    const fence = { secret: SECRET, jobId, token };
    const base = { ...fence, now: T0 + 1 };
    const pieces = ["a", "b", "c", "d", "e"].map((c) => c.repeat(900_000));
    for (const [part, data] of pieces.entries()) {
      await t.mutation(api.worker.steps.putArtifactPart, { ...fence, step: 4, part, data });
    }
    // A retried piece changes nothing.
    await t.mutation(api.worker.steps.putArtifactPart, { ...fence, step: 4, part: 1, data: pieces[1]! });
    await t.mutation(api.worker.steps.finishStep, { ...base, step: 4, artifact: "", parts: 5 });
    const [record] = await t.query(api.worker.steps.getSteps, { secret: SECRET, jobId });
    expect(record).toMatchObject({ step: 4, status: "completed", artifact: "", artifactParts: 5 });
    // The states alone carry no artifact, inline or in pieces.
    const [state] = await t.query(api.worker.steps.getStepStates, { secret: SECRET, jobId });
    expect(state).toMatchObject({ step: 4, status: "completed", runs: 1 });
    expect(state).not.toHaveProperty("artifact");
    expect(state).not.toHaveProperty("artifactParts");
    const read = [];
    for (let from = 0; ;) {
      const page = await t.query(api.worker.steps.getArtifactParts, {
        secret: SECRET,
        jobId,
        step: 4,
        from,
      });
      if (page.length === 0) break;
      read.push(...page);
      from = page[page.length - 1]!.part + 1;
    }
    expect(read.map((p) => p.part)).toEqual([0, 1, 2, 3, 4]);
    expect(read.map((p) => p.data).join("")).toBe(pieces.join(""));
    const sizes = await t.run(async (ctx) =>
      [
        ...(await ctx.db.query("jobStepParts").collect()),
        ...(await ctx.db.query("jobSteps").collect()),
      ].map((doc) => getDocumentSize(doc)),
    );
    expect(Math.max(...sizes)).toBeLessThan(1 << 20);

    // A later run with fewer pieces leaves none of the old ones behind; an inline one, none.
    await t.mutation(api.worker.steps.finishStep, { ...base, step: 4, artifact: "", parts: 2 });
    const parts = () => t.run(async (ctx) => (await ctx.db.query("jobStepParts").collect()).length);
    expect(await parts()).toBe(2);
    await t.mutation(api.worker.steps.finishStep, { ...base, step: 4, artifact: "{}" });
    expect(await parts()).toBe(0);
    const [inline] = await t.query(api.worker.steps.getSteps, { secret: SECRET, jobId });
    expect(inline!.artifact).toBe("{}");
    expect(inline!.artifactParts).toBeUndefined();
    const [inlineState] = await t.query(api.worker.steps.getStepStates, { secret: SECRET, jobId });
    expect(inlineState).not.toHaveProperty("artifact");

    const refused = [
      t.mutation(api.worker.steps.finishStep, { ...base, step: 4, artifact: "{}", parts: 1 }),
      t.mutation(api.worker.steps.finishStep, { ...base, step: 4, artifact: "", parts: 0 }),
      t.mutation(api.worker.steps.putArtifactPart, { ...fence, step: 4, part: 64, data: "x" }),
      t.mutation(api.worker.steps.putArtifactPart, { ...fence, step: 9, part: 0, data: "x" }),
    ];
    for (const call of refused) expect(await errorCode(call)).toBe("invalid");
    expect(
      await errorCode(
        t.mutation(api.worker.steps.putArtifactPart, {
          ...fence,
          token: "stale",
          step: 4,
          part: 0,
          data: "x",
        }),
      ),
    ).toBe("lease_lost");

    // Purge takes the pieces with the job, at most eight per transaction.
    for (const [part, data] of pieces.concat(pieces).entries()) {
      await t.mutation(api.worker.steps.putArtifactPart, { ...fence, step: 5, part, data });
    }
    await t.mutation(api.worker.queue.fail, { ...base, error: "e", permanent: true, now: T0 + 2 });
    const purge = { secret: SECRET, before: T0 + 10, limit: 10, dryRun: false };
    expect(await t.mutation(api.worker.ops.purge, purge)).toEqual([]);
    expect(await parts()).toBe(2);
    expect(await t.mutation(api.worker.ops.purge, purge)).toEqual([jobId]);
    expect(await parts()).toBe(0);
  });
});
