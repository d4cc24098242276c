// Validators of the worker's wire: statuses, the job's result, and documents as
// the functions return them. Documents are derived from the deployment's schema
// (the web app's, with the worker's additions), so a return validator can never
// be narrower than what the web app stores.
import { v, type Infer } from "convex/values";
import schema from "../../schema";
import shared from "./shared.json";

const { tables } = schema;
const jobFields = tables.jobs.validator.fields;

export const jobStatus = jobFields.status;
// A status is one of the schema's (the web app's); which of them are active, final
// or retryable is in shared.json, which the Python store is pinned to.
// convex/tests/shared.test.ts checks that shared.json names exactly the schema's.
export type JobStatus = Infer<typeof jobStatus>;
export const JOB_STATUSES = shared.statuses.all as readonly JobStatus[];
export const ACTIVE_STATUSES = shared.statuses.active as readonly JobStatus[];
export const FINAL_STATUSES = shared.statuses.final as readonly JobStatus[];
export const RETRYABLE_STATUSES = shared.statuses.retryable as readonly JobStatus[];
// The web app's result: {success, message?, data?: string}, a plain message, or null.
// The stored field is optional; as an argument it is required, so its members are
// taken into a required union.
export const jobResult = v.union(...jobFields.result.members);
export type JobResult = Infer<typeof jobResult>;

// The web's jobs.regenerationStats, as an argument (the stored field is optional).
export const regenerationStats = v.object({
  inserted: v.number(),
  updated: v.number(),
  skipped: v.number(),
  rejected: v.number(),
  deleted: v.number(),
});

export const docKind = tables.docs.validator.fields.kind;
export const logLevel = tables.jobLogs.validator.fields.level;

// Documents as functions return them: the stored fields plus the system fields.
export const jobDoc = v.object({ _id: v.id("jobs"), _creationTime: v.number(), ...jobFields });
export const repositoryDoc = v.object({
  _id: v.id("repositories"),
  _creationTime: v.number(),
  ...tables.repositories.validator.fields,
});
export const docDoc = v.object({
  _id: v.id("docs"),
  _creationTime: v.number(),
  ...tables.docs.validator.fields,
});
export const jobLogDoc = v.object({
  _id: v.id("jobLogs"),
  _creationTime: v.number(),
  ...tables.jobLogs.validator.fields,
});
export const jobStepDoc = v.object({
  _id: v.id("jobSteps"),
  _creationTime: v.number(),
  ...tables.jobSteps.validator.fields,
});
// A step record without its artifact, for reads that need only the state.
const { artifact: _artifact, artifactParts: _parts, ...stepStateFields } =
  tables.jobSteps.validator.fields;
export const jobStepStateDoc = v.object({
  _id: v.id("jobSteps"),
  _creationTime: v.number(),
  ...stepStateFields,
});
