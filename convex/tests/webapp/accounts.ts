// Users and repositories as the web app writes them (a test model): a user signed in
// with GitHub, holding an encrypted token, and a repository fetched from GitHub with
// its id as a string and its languages and stats objects.
import { v } from "convex/values";
import { makeFunctionReference } from "convex/server";
import { action, mutation } from "../../functions/_generated/server";

export const signIn = mutation({
  args: {
    githubId: v.string(),
    username: v.string(),
    githubAccessToken: v.optional(v.string()),
  },
  handler: async (ctx, args) =>
    ctx.db.insert("users", {
      githubId: args.githubId,
      username: args.username,
      email: `${args.username}@example.com`,
      avatarUrl: `https://avatars.example.com/${args.githubId}`,
      ...(args.githubAccessToken ? { githubAccessToken: args.githubAccessToken } : {}),
      createdAt: Date.now(),
    }),
});

export const addRepository = mutation({
  args: {
    userId: v.id("users"),
    githubRepoId: v.number(),
    fullName: v.string(),
    defaultBranch: v.optional(v.string()),
    // The worker's added field, for a test whose repository is a local folder.
    cloneUrl: v.optional(v.string()),
  },
  handler: async (ctx, args) =>
    ctx.db.insert("repositories", {
      userId: args.userId,
      githubRepoId: args.githubRepoId.toString(),
      name: args.fullName.split("/")[1] ?? args.fullName,
      fullName: args.fullName,
      description: "A repository of the web app's user",
      defaultBranch: args.defaultBranch ?? "main",
      lastFetched: Date.now(),
      languages: {
        primary: "TypeScript",
        all: [
          { name: "TypeScript", percentage: 91.5, bytes: 120_431 },
          { name: "CSS", percentage: 8.5, bytes: 11_201 },
        ],
      },
      stats: { stars: 12, forks: 3, issues: 1 },
      ...(args.cloneUrl ? { cloneUrl: args.cloneUrl } : {}),
    }),
});

// An action, as the web app's GitHub calls are: it signs the user in through the
// mutation above. The sync protocol's conformance tests call it over the socket.
export const signInFromGitHub = action({
  args: { githubId: v.string(), username: v.string() },
  handler: async (ctx, args): Promise<string> =>
    ctx.runMutation(makeFunctionReference<"mutation">("webapp/accounts:signIn"), args),
});
