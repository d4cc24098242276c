// The web app's repositories.getByFullName (a test model): every row of that name, in
// creation order, as its unindexed filter answers them. The course page and its
// `/latest` route take the first.
import { v } from "convex/values";
import { query } from "../../functions/_generated/server";

export const getByFullName = query({
  args: { fullName: v.string() },
  handler: async (ctx, args) =>
    ctx.db
      .query("repositories")
      .filter((q) => q.eq(q.field("fullName"), args.fullName))
      .collect(),
});
