// Work kept for the later jobs of a repository (the Python side: store/convex/reuse.py).
// The repository is never an argument: it is read from the job whose lease the caller
// holds, so a job reaches only its own repository's records. A key holds at most
// `variantsPerKey` records (saving one more drops the oldest), each value at most
// `maxValueChars`: a lookup reads a few hundred KiB at most, and a document stays far
// under Convex's 1 MiB.
import { v } from "convex/values";
import { invalid } from "./lib/errors";
import { workerMutation, workerQuery } from "./lib/functions";
import { fenced } from "./lib/jobs";
import shared from "./lib/shared.json";

const MAX_VALUE_CHARS = shared.reuse.maxValueChars;
const VARIANTS_PER_KEY = shared.reuse.variantsPerKey;

const reuseKind = v.union(v.literal("step"), v.literal("answer"), v.literal("parse"));

const reuseRecord = v.object({
  kind: reuseKind,
  key: v.string(),
  variant: v.string(),
  value: v.string(),
  jobId: v.string(),
  createdAt: v.number(),
});

export const findReuse = workerQuery({
  args: { jobId: v.string(), token: v.string(), kind: reuseKind, key: v.string() },
  returns: v.array(reuseRecord),
  handler: async (ctx, args) => {
    const job = await fenced(ctx, args.jobId, args.token);
    // Bounded: saveReuse keeps at most VARIANTS_PER_KEY records of a key.
    const docs = await ctx.db
      .query("reuseRecords")
      .withIndex("by_repository_kind_key_variant", (q) =>
        q.eq("repositoryId", job.repositoryId).eq("kind", args.kind).eq("key", args.key),
      )
      .take(VARIANTS_PER_KEY + 1);
    docs.sort((a, b) => b.createdAt - a.createdAt || b._creationTime - a._creationTime);
    return docs.slice(0, VARIANTS_PER_KEY).map((d) => ({
      kind: d.kind,
      key: d.key,
      variant: d.variant,
      value: d.value,
      jobId: d.jobId,
      createdAt: d.createdAt,
    }));
  },
});

export const saveReuse = workerMutation({
  args: {
    jobId: v.string(),
    token: v.string(),
    kind: reuseKind,
    key: v.string(),
    variant: v.string(),
    value: v.string(),
  },
  returns: v.null(),
  handler: async (ctx, args, { now }) => {
    if (args.value.length > MAX_VALUE_CHARS) {
      throw invalid(`a reuse record holds at most ${MAX_VALUE_CHARS} characters`);
    }
    const job = await fenced(ctx, args.jobId, args.token);
    const ofKey = await ctx.db
      .query("reuseRecords")
      .withIndex("by_repository_kind_key_variant", (q) =>
        q.eq("repositoryId", job.repositoryId).eq("kind", args.kind).eq("key", args.key),
      )
      .take(VARIANTS_PER_KEY + 1);
    const fields = { value: args.value, jobId: job._id, createdAt: now };
    const same = ofKey.find((d) => d.variant === args.variant);
    if (same !== undefined) {
      await ctx.db.patch(same._id, fields);
      return null;
    }
    await ctx.db.insert("reuseRecords", {
      repositoryId: job.repositoryId,
      kind: args.kind,
      key: args.key,
      variant: args.variant,
      ...fields,
    });
    // The oldest go, so a key never holds more than VARIANTS_PER_KEY records.
    const oldestFirst = [...ofKey].sort((a, b) => a.createdAt - b.createdAt);
    const over = Math.max(0, ofKey.length + 1 - VARIANTS_PER_KEY);
    for (const old of oldestFirst.slice(0, over)) {
      await ctx.db.delete(old._id);
    }
    return null;
  },
});
