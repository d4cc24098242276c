// Errors a caller can act on. Each carries a stable `code` in its ConvexError
// data, which the Python store maps to its own exception types:
//   unauthorized -> StoreAuthError, lease_lost -> LeaseLost,
//   cancel_requested -> CancelRequested (a LeaseLost: the holder stops),
//   not_found -> JobNotFound, invalid -> MalformedJob.
import { ConvexError } from "convex/values";

export type ErrorCode =
  | "unauthorized"
  | "lease_lost"
  | "cancel_requested"
  | "not_found"
  | "invalid";

export type ErrorData = {
  code: ErrorCode;
  message: string;
  // The job or "repository <id>" the error is about, when there is one.
  subject?: string;
  reason?: string;
};

function fail(data: ErrorData): ConvexError<ErrorData> {
  return new ConvexError(data);
}

export function unauthorized(message: string): ConvexError<ErrorData> {
  return fail({ code: "unauthorized", message });
}

export function leaseLost(jobId: string, reason: string): ConvexError<ErrorData> {
  return fail({
    code: "lease_lost",
    message: `lease lost on job ${jobId}: ${reason}`,
    subject: jobId,
    reason,
  });
}

// A step must not start on a job whose cancel was requested: its holder stops.
export function cancelRequested(jobId: string): ConvexError<ErrorData> {
  return fail({
    code: "cancel_requested",
    message: `lease lost on job ${jobId}: cancel requested`,
    subject: jobId,
    reason: "cancel requested",
  });
}

// `subject` is what the Python side names in JobNotFound: the bare job id, or
// "repository <id>".
export function notFound(kind: "job" | "repository", id: string): ConvexError<ErrorData> {
  const subject = kind === "job" ? id : `repository ${id}`;
  return fail({ code: "not_found", message: `${kind} ${id} not found`, subject });
}

export function invalid(message: string): ConvexError<ErrorData> {
  return fail({ code: "invalid", message });
}
