// The prologue every worker function shares, written once: the secret check, the
// clock and the progress language. `workerQuery`/`workerMutation` add the
// arguments `secret`, `now` and `language` to a function and hand its handler a
// `Call` with the time to use and the language of the progress texts.
//
// The clock is the deployment's (Date.now() inside the transaction). A caller's
// `now` is honoured only when the deployment's FONDATION_TEST_CLOCK is "1", which
// the test stand-in sets; elsewhere it is ignored, so a bridge whose clock is
// minutes off cannot move a lease, and workers of an earlier release that still
// send `now` keep working.
import {
  v,
  type Infer,
  type ObjectType,
  type PropertyValidators,
  type Validator,
} from "convex/values";
import { mutation, query, type MutationCtx, type QueryCtx } from "../../_generated/server";
import { requireWorker } from "./auth";
import { language, type Language } from "./progress";

export type Call = { now: number; language: Language };

const callArgs = {
  // Optional in the validator so that a caller without one gets a clear
  // `unauthorized` error from the handler rather than an argument error.
  secret: v.optional(v.string()),
  now: v.optional(v.number()),
  language: v.optional(v.string()),
};

const TEST_CLOCK_VAR = "FONDATION_TEST_CLOCK";

export function clock(now: number | undefined): number {
  // Read at call time: Convex environment variables change without a deploy.
  if (now !== undefined && process.env[TEST_CLOCK_VAR] === "1") return now;
  return Date.now();
}

async function admit(args: ObjectType<typeof callArgs>): Promise<Call> {
  await requireWorker(args.secret);
  return { now: clock(args.now), language: language(args.language) };
}

type Returns = Validator<any, "required", any>;

type Definition<Ctx, A extends PropertyValidators, R extends Returns> = {
  args: A;
  returns: R;
  handler: (ctx: Ctx, args: ObjectType<A>, call: Call) => Promise<Infer<R>>;
};

// The definition with the call's arguments added and checked before the handler runs.
function admitted<Ctx, A extends PropertyValidators, R extends Returns>(
  def: Definition<Ctx, A, R>,
) {
  return {
    args: { ...def.args, ...callArgs },
    returns: def.returns,
    handler: async (ctx: Ctx, args: ObjectType<A & typeof callArgs>): Promise<Infer<R>> =>
      def.handler(ctx, args as ObjectType<A>, await admit(args)),
  };
}

export function workerQuery<A extends PropertyValidators, R extends Returns>(
  def: Definition<QueryCtx, A, R>,
) {
  return query(admitted(def));
}

export function workerMutation<A extends PropertyValidators, R extends Returns>(
  def: Definition<MutationCtx, A, R>,
) {
  return mutation(admitted(def));
}
