// The worker's scheduled jobs, registered into the project's crons.ts. Leases
// expire even when no bridge is alive to notice: every minute the deployment
// itself returns expired jobs to pending (a bounded batch; a full batch schedules
// the next one at once).
import type { Crons } from "convex/server";
import { internal } from "../_generated/api";

export function registerWorkerCrons(crons: Crons): void {
  crons.interval(
    "fondation worker: reclaim expired leases",
    { minutes: 1 },
    internal.worker.queue.reclaimExpiredInternal,
    {},
  );
}
