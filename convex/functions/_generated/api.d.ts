/* eslint-disable */
/**
 * Generated `api` utility.
 *
 * THIS CODE IS AUTOMATICALLY GENERATED.
 *
 * To regenerate, run `npx convex dev`.
 * @module
 */

import type {
  ApiFromModules,
  FilterApi,
  FunctionReference,
} from "convex/server";
import type * as crons from "../crons.js";
import type * as worker_credentials from "../worker/credentials.js";
import type * as worker_crons from "../worker/crons.js";
import type * as worker_jobs from "../worker/jobs.js";
import type * as worker_lib_auth from "../worker/lib/auth.js";
import type * as worker_lib_courses from "../worker/lib/courses.js";
import type * as worker_lib_errors from "../worker/lib/errors.js";
import type * as worker_lib_fields from "../worker/lib/fields.js";
import type * as worker_lib_functions from "../worker/lib/functions.js";
import type * as worker_lib_jobs from "../worker/lib/jobs.js";
import type * as worker_lib_progress from "../worker/lib/progress.js";
import type * as worker_lib_reuse from "../worker/lib/reuse.js";
import type * as worker_lib_steps from "../worker/lib/steps.js";
import type * as worker_ops from "../worker/ops.js";
import type * as worker_queue from "../worker/queue.js";
import type * as worker_reuse from "../worker/reuse.js";
import type * as worker_steps from "../worker/steps.js";

/**
 * A utility for referencing Convex functions in your app's API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = api.myModule.myFunction;
 * ```
 */
declare const fullApi: ApiFromModules<{
  crons: typeof crons;
  "worker/credentials": typeof worker_credentials;
  "worker/crons": typeof worker_crons;
  "worker/jobs": typeof worker_jobs;
  "worker/lib/auth": typeof worker_lib_auth;
  "worker/lib/courses": typeof worker_lib_courses;
  "worker/lib/errors": typeof worker_lib_errors;
  "worker/lib/fields": typeof worker_lib_fields;
  "worker/lib/functions": typeof worker_lib_functions;
  "worker/lib/jobs": typeof worker_lib_jobs;
  "worker/lib/progress": typeof worker_lib_progress;
  "worker/lib/reuse": typeof worker_lib_reuse;
  "worker/lib/steps": typeof worker_lib_steps;
  "worker/ops": typeof worker_ops;
  "worker/queue": typeof worker_queue;
  "worker/reuse": typeof worker_reuse;
  "worker/steps": typeof worker_steps;
}>;
export declare const api: FilterApi<
  typeof fullApi,
  FunctionReference<any, "public">
>;
export declare const internal: FilterApi<
  typeof fullApi,
  FunctionReference<any, "internal">
>;
