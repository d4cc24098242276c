// The deployment's scheduled jobs. Convex reads them from this one file at the
// functions root, so the worker's are registered by one call (docs/CONVEX.md: a
// project that already has a crons.ts adds that call to its own).
import { cronJobs } from "convex/server";
import { registerWorkerCrons } from "./worker/crons";

const crons = cronJobs();
registerWorkerCrons(crons);

export default crons;
