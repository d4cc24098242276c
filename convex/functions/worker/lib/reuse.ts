// The reuse records of a repository, read and written for reuse.ts and inside the
// calls that fold a lookup or a save into their own transaction (steps.ts
// beginStep, queue.ts complete). A key holds at most VARIANTS_PER_KEY records
// (saving one more drops the oldest), each value at most MAX_VALUE_CHARS: a lookup
// reads a few hundred KiB at most, and a document stays far under Convex's 1 MiB.
import type { Infer } from "convex/values";
import type { Doc, Id } from "../../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../../_generated/server";
import { invalid } from "./errors";
import type { reuseEntry, reuseKey, reuseRecord } from "./fields";
import shared from "./shared.json";

const MAX_VALUE_CHARS = shared.reuse.maxValueChars;
const VARIANTS_PER_KEY = shared.reuse.variantsPerKey;

export type ReuseKey = Infer<typeof reuseKey>;
export type ReuseEntry = Infer<typeof reuseEntry>;
export type ReuseRecord = Infer<typeof reuseRecord>;

// Throws before anything is written: a value larger than one record holds.
export function checkReuseValue(value: string): void {
  if (value.length > MAX_VALUE_CHARS) {
    throw invalid(`a reuse record holds at most ${MAX_VALUE_CHARS} characters`);
  }
}

function recordsOfKey(
  ctx: QueryCtx,
  repositoryId: Id<"repositories">,
  { kind, key }: ReuseKey,
): Promise<Doc<"reuseRecords">[]> {
  // Bounded: keepReuse keeps at most VARIANTS_PER_KEY records of a key.
  return ctx.db
    .query("reuseRecords")
    .withIndex("by_repository_kind_key_variant", (q) =>
      q.eq("repositoryId", repositoryId).eq("kind", kind).eq("key", key),
    )
    .take(VARIANTS_PER_KEY + 1);
}

// The records of a key of the repository, newest first, at most VARIANTS_PER_KEY.
export async function findReuseRecords(
  ctx: QueryCtx,
  repositoryId: Id<"repositories">,
  key: ReuseKey,
): Promise<ReuseRecord[]> {
  const docs = await recordsOfKey(ctx, repositoryId, key);
  docs.sort((a, b) => b.createdAt - a.createdAt || b._creationTime - a._creationTime);
  return docs.slice(0, VARIANTS_PER_KEY).map((d) => ({
    kind: d.kind,
    key: d.key,
    variant: d.variant,
    value: d.value,
    jobId: d.jobId,
    createdAt: d.createdAt,
  }));
}

// Keeps `entry` as the job's, replacing the record of the same (kind, key, variant),
// so a repeat changes nothing; the key's oldest go past VARIANTS_PER_KEY.
export async function keepReuse(
  ctx: MutationCtx,
  job: Doc<"jobs">,
  entry: ReuseEntry,
  now: number,
): Promise<void> {
  checkReuseValue(entry.value);
  const ofKey = await recordsOfKey(ctx, job.repositoryId, entry);
  const fields = { value: entry.value, jobId: job._id, createdAt: now };
  const same = ofKey.find((d) => d.variant === entry.variant);
  if (same !== undefined) {
    await ctx.db.patch(same._id, fields);
    return;
  }
  await ctx.db.insert("reuseRecords", {
    repositoryId: job.repositoryId,
    kind: entry.kind,
    key: entry.key,
    variant: entry.variant,
    ...fields,
  });
  const oldestFirst = [...ofKey].sort((a, b) => a.createdAt - b.createdAt);
  const over = Math.max(0, ofKey.length + 1 - VARIANTS_PER_KEY);
  for (const old of oldestFirst.slice(0, over)) {
    await ctx.db.delete(old._id);
  }
}
