// Work kept for the later jobs of a repository (the Python side: store/convex/reuse.py).
// The repository is never an argument: it is read from the job whose lease the caller
// holds, so a job reaches only its own repository's records. The bounds and the
// reads and writes themselves are in lib/reuse.ts, shared with beginStep (a lookup
// with the step's start) and complete (a save with the job's end).
import { v } from "convex/values";
import { reuseKind, reuseRecord } from "./lib/fields";
import { workerMutation, workerQuery } from "./lib/functions";
import { fenced } from "./lib/jobs";
import { checkReuseValue, findReuseRecords, keepReuse } from "./lib/reuse";

export const findReuse = workerQuery({
  args: { jobId: v.string(), token: v.string(), kind: reuseKind, key: v.string() },
  returns: v.array(reuseRecord),
  handler: async (ctx, args) => {
    const job = await fenced(ctx, args.jobId, args.token);
    return findReuseRecords(ctx, job.repositoryId, args);
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
    checkReuseValue(args.value);
    const job = await fenced(ctx, args.jobId, args.token);
    await keepReuse(ctx, job, args, now);
    return null;
  },
});
