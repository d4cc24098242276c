// Leases expire even when no bridge is alive to notice: every minute the
// deployment itself returns expired jobs to pending (a bounded batch; a full
// batch schedules the next one at once).
import { cronJobs } from "convex/server";
import { internal } from "./_generated/api";

const crons = cronJobs();

crons.interval("reclaim expired leases", { minutes: 1 }, internal.queue.reclaimExpiredInternal, {});

export default crons;
