// The steps of a job, from the step table in shared.json, which the Python package
// reads too (fondation/steps.py): one row per step, in chain order, the step's number
// being its row.
import { invalid } from "./errors";
import shared from "./shared.json";
import type { JobStatus } from "./fields";

export type Step = (typeof shared.steps.table)[number];
export const STEPS: readonly Step[] = shared.steps.table;
export const STEP_NAMES: readonly string[] = STEPS.map((s) => s.name);
export const ANALYSIS_STEPS = STEPS.filter((s) => s.status === "analyzing").length;
export const FINALIZE_STEP = STEPS.length - 1;

export function step(number: number): Step {
  const row = Number.isInteger(number) ? STEPS[number] : undefined;
  if (row === undefined) throw invalid(`no step ${number}`);
  return row;
}

export function stepName(number: number): string {
  return step(number).name;
}

// The job's status while `number` runs, as the web app shows it.
export function stepStatus(number: number): JobStatus {
  return step(number).status as JobStatus;
}

// The step in logs, in English: "Step 3/6: Determining order" for an analysis step
// (the runbook greps "Step [0-9]/6"), the bare name for the clone and the save.
export function stepLine(number: number): string {
  const s = step(number);
  return s.status === "analyzing" ? `Step ${number}/${ANALYSIS_STEPS}: ${s.name}` : s.name;
}
