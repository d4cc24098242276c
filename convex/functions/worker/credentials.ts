// The repository owner's GitHub token, for cloning a private repository. The web
// app keeps each user's OAuth token in users.githubAccessToken, encrypted with its
// ENCRYPTION_KEY; this returns the stored value as it is and the worker decrypts
// it. Only the holder of the job's current lease gets it: the secret alone is not
// enough, so a token is handed out for a job being cloned and for nothing else.
// (The web's own users.getGitHubToken is public and must not be used.)
import { v } from "convex/values";
import { workerQuery } from "./lib/functions";
import { fenced } from "./lib/jobs";

export const ownerGitHubToken = workerQuery({
  args: { jobId: v.string(), leaseToken: v.string() },
  returns: v.union(v.string(), v.null()),
  handler: async (ctx, args) => {
    const job = await fenced(ctx, args.jobId, args.leaseToken);
    const repo = await ctx.db.get(job.repositoryId);
    if (repo === null) return null;
    const user = await ctx.db.get(repo.userId);
    const stored = user?.githubAccessToken;
    return stored === undefined || stored === "" ? null : stored;
  },
});
