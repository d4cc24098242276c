// Who may operate the queue. Every public function of this project calls
// requireWorker first: the caller must present the shared secret held in the
// deployment's FONDATION_WORKER_SECRET environment variable. A deploy key would
// also work over HTTP, but it is an admin credential (it reads every table and
// deploys code); a worker that runs an LLM over untrusted repositories should
// hold a credential that can only operate the queue and that an operator rotates
// by setting one variable. See docs/CONVEX.md.
import { unauthorized } from "./errors";

const ENV_VAR = "FONDATION_WORKER_SECRET";
// Set during a rotation to the secret being retired, so that workers can be moved
// to the new one without a moment in which every worker is refused.
const PREVIOUS_ENV_VAR = "FONDATION_WORKER_SECRET_PREVIOUS";

export async function requireWorker(secret: string | undefined): Promise<void> {
  // Read at call time: Convex environment variables change without a deploy.
  const expected = process.env[ENV_VAR];
  if (expected === undefined || expected === "") {
    throw unauthorized(`${ENV_VAR} is not set on this deployment: every queue call is refused`);
  }
  if (secret === undefined || secret === "") {
    throw unauthorized("missing worker secret");
  }
  const previous = process.env[PREVIOUS_ENV_VAR];
  const accepted = [expected, ...(previous ? [previous] : [])];
  // Every candidate is compared, so the time taken does not say which one matched.
  const matches = await Promise.all(accepted.map((candidate) => sameSecret(secret, candidate)));
  if (!matches.includes(true)) {
    throw unauthorized("wrong worker secret");
  }
}

// Compares digests rather than the strings so that neither the time taken nor an
// early exit reveals how much of a guess was right, or the secret's length.
async function sameSecret(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([digest(given), digest(expected)]);
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  }
  return diff === 0;
}

async function digest(text: string): Promise<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}
