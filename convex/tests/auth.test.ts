import { makeFunctionReference } from "convex/server";
import { afterEach, describe, expect, test, vi } from "vitest";
import { SECRET, T0, errorCode, modules, setup } from "./setup";

afterEach(() => {
  vi.unstubAllEnvs();
});

// Well-formed arguments (without the secret) for every public function, so that
// each call reaches its handler and only the secret can stop it.
const JOB = "nosuchjob";
const PUBLIC_CALLS: Record<string, Record<string, unknown>> = {
  "worker/queue:claimBatch": { owner: "o", limit: 1, leaseMs: 1000, now: T0 },
  "worker/queue:renew": { jobId: JOB, token: "t", leaseMs: 1000, now: T0 },
  "worker/queue:heldJobs": { owner: "o", limit: 1 },
  "worker/queue:reclaimExpired": { limit: 1, now: T0 },
  "worker/queue:release": { jobId: JOB, token: "t", reason: "r", now: T0 },
  "worker/queue:markCanceled": { jobId: JOB, token: "t", now: T0 },
  "worker/queue:complete": { jobId: JOB, token: "t", result: null, docsCount: 0, now: T0 },
  "worker/queue:fail": { jobId: JOB, token: "t", error: "e", permanent: true, now: T0 },
  "worker/queue:readyCount": { now: T0 },
  "worker/queue:watch": { owner: "b", now: T0 },
  "worker/steps:beginStep": { jobId: JOB, token: "t", step: 0, worker: "w", now: T0 },
  "worker/steps:finishStep": { jobId: JOB, token: "t", step: 0, artifact: "", now: T0 },
  "worker/steps:putArtifactPart": { jobId: JOB, token: "t", step: 0, part: 0, data: "d" },
  "worker/steps:getArtifactParts": { jobId: JOB, step: 0, from: 0 },
  "worker/steps:getSteps": { jobId: JOB },
  "worker/steps:getStepStates": { jobId: JOB },
  "worker/steps:getJobProgress": { jobId: JOB },
  "worker/steps:appendLog": { jobId: JOB, level: "info", msg: "m", now: T0 },
  "worker/steps:getLogs": { jobId: JOB },
  "worker/steps:upsertDocs": { jobId: JOB, token: "t", docs: [], now: T0 },
  "worker/steps:removeDocs": { jobId: JOB, token: "t", slugs: [], now: T0 },
  "worker/steps:publishChapters": { jobId: JOB, token: "t", docs: [], ready: 0, total: 1, now: T0 },
  "worker/steps:getDocs": { jobId: JOB, paginationOpts: { numItems: 1, cursor: null } },
  "worker/jobs:upsertRepository": { userId: "u", name: "n", fullName: "o/n", now: T0 },
  "worker/jobs:getRepository": { repositoryId: "r" },
  "worker/jobs:createJob": { userId: "u", repositoryId: "r", now: T0 },
  "worker/jobs:getJob": { jobId: JOB },
  "worker/jobs:listJobs": {},
  "worker/jobs:requestCancel": { jobId: JOB, now: T0 },
  "worker/jobs:retryJob": { jobId: JOB, now: T0 },
  "worker/ops:countByStatus": {},
  "worker/ops:oldestPending": { now: T0 },
  "worker/ops:listStuck": { now: T0, idleMs: 1, limit: 1 },
  "worker/ops:requeue": { jobId: JOB, reason: "r", now: T0 },
  "worker/ops:purge": { before: T0, limit: 1, dryRun: true },
  "worker/credentials:ownerGitHubToken": { jobId: JOB, leaseToken: "t" },
  "worker/reuse:findReuse": { jobId: JOB, token: "t", kind: "answer", key: "k" },
  "worker/reuse:saveReuse": {
    jobId: JOB, token: "t", kind: "answer", key: "k", variant: "v", value: "x",
  },
};

type Registered = {
  isPublic?: boolean;
  isQuery?: boolean;
  isMutation?: boolean;
  isAction?: boolean;
};

async function publicFunctions(): Promise<Map<string, "query" | "mutation" | "action">> {
  const found = new Map<string, "query" | "mutation" | "action">();
  for (const [file, load] of Object.entries(modules)) {
    const name = file.replace(/^\.\.\/functions\//, "").replace(/\.[^.]+$/, "");
    // The web app's own functions (modelled in tests/webapp) are not the worker's.
    if (name.startsWith("_generated") || name.startsWith("webapp/")) continue;
    const exports = (await load()) as Record<string, Registered>;
    for (const [fn, value] of Object.entries(exports)) {
      if (!value?.isPublic) continue;
      const kind = value.isQuery ? "query" : value.isMutation ? "mutation" : "action";
      found.set(`${name}:${fn}`, kind);
    }
  }
  return found;
}

async function call(path: string, args: Record<string, unknown>): Promise<string> {
  const t = setup();
  const kind = (await publicFunctions()).get(path);
  if (kind === "query") return errorCode(t.query(makeFunctionReference<"query">(path), args));
  if (kind === "mutation")
    return errorCode(t.mutation(makeFunctionReference<"mutation">(path), args));
  return errorCode(t.action(makeFunctionReference<"action">(path), args));
}

describe("auth", () => {
  test("every public function is in the table below", async () => {
    expect([...(await publicFunctions()).keys()].sort()).toEqual(Object.keys(PUBLIC_CALLS).sort());
  });

  test.each(Object.entries(PUBLIC_CALLS))(
    "%s refuses a caller without the secret",
    async (path, args) => {
      expect(await call(path, args)).toBe("unauthorized");
    },
  );

  test.each(Object.entries(PUBLIC_CALLS))("%s refuses a wrong secret", async (path, args) => {
    expect(await call(path, { ...args, secret: `${SECRET}x` })).toBe("unauthorized");
    expect(await call(path, { ...args, secret: "" })).toBe("unauthorized");
  });

  test.each(Object.entries(PUBLIC_CALLS))(
    "%s refuses even the right secret when the deployment has none set",
    async (path, args) => {
      const t = setup();
      vi.stubEnv("FONDATION_WORKER_SECRET", "");
      const kind = (await publicFunctions()).get(path);
      const ref = makeFunctionReference<"mutation">(path);
      const promise =
        kind === "query"
          ? t.query(makeFunctionReference<"query">(path), { ...args, secret: SECRET })
          : t.mutation(ref, { ...args, secret: SECRET });
      expect(await errorCode(promise)).toBe("unauthorized");
    },
  );

  test("the right secret gets through", async () => {
    const t = setup();
    expect(
      await t.query(makeFunctionReference<"query">("worker/jobs:listJobs"), { secret: SECRET }),
    ).toEqual([]);
  });

  test("during a rotation the previous secret is accepted too, and only until it is unset", async () => {
    const t = setup();
    const listJobs = makeFunctionReference<"query">("worker/jobs:listJobs");
    vi.stubEnv("FONDATION_WORKER_SECRET", "new-secret");
    vi.stubEnv("FONDATION_WORKER_SECRET_PREVIOUS", SECRET);
    expect(await t.query(listJobs, { secret: SECRET })).toEqual([]);
    expect(await t.query(listJobs, { secret: "new-secret" })).toEqual([]);
    expect(await errorCode(t.query(listJobs, { secret: "other" }))).toBe("unauthorized");
    vi.stubEnv("FONDATION_WORKER_SECRET_PREVIOUS", "");
    expect(await errorCode(t.query(listJobs, { secret: SECRET }))).toBe("unauthorized");
  });

  test("the refusal says why", async () => {
    const t = setup();
    vi.stubEnv("FONDATION_WORKER_SECRET", undefined as unknown as string);
    await expect(
      t.query(makeFunctionReference<"query">("worker/jobs:listJobs"), { secret: SECRET }),
    ).rejects.toThrow(/FONDATION_WORKER_SECRET is not set/);
  });
});
