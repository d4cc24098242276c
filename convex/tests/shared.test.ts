// shared.json, the rules both halves of the worker read (the Python copy is pinned
// to it by tests/unit/test_shared_rules.py), agrees with the schema the web app
// stores and with itself.
import { describe, expect, test } from "vitest";
import { jobStatus } from "../functions/worker/lib/fields";
import { DEFAULT_LANGUAGE, LANGUAGES, STEP_NAMES } from "../functions/worker/lib/progress";
import shared from "../functions/worker/lib/shared.json";

// A Convex document holds at most 1 MiB.
const DOCUMENT_LIMIT_BYTES = 1 << 20;

describe("shared.json", () => {
  test("names exactly the statuses of the schema's jobs.status", () => {
    const schemaStatuses = jobStatus.members.map((member) => member.value);
    expect([...shared.statuses.all].sort()).toEqual([...schemaStatuses].sort());
  });

  test("splits the statuses into pending, active and final, and retries only final ones", () => {
    const { all, active, final, retryable } = shared.statuses;
    expect(["pending", ...active, ...final]).toEqual(all);
    expect(new Set(all).size).toBe(all.length);
    expect(retryable.every((status) => final.includes(status))).toBe(true);
    expect(retryable).not.toContain("completed");
  });

  test("numbers the steps: the clone, the analysis steps, then finalize", () => {
    const { names, analysisSteps, finalizeStep } = shared.steps;
    expect(names).toHaveLength(analysisSteps + 2);
    expect(finalizeStep).toBe(names.length - 1);
    expect(shared.progress.frenchStepNames).toHaveLength(analysisSteps);
    expect(STEP_NAMES).toEqual(names);
  });

  test("gives every moment a text in every language, the default one included", () => {
    expect(LANGUAGES).toContain(DEFAULT_LANGUAGE);
    const moments = Object.keys(shared.progress.moments.en).sort();
    for (const lang of LANGUAGES) {
      expect(Object.keys(shared.progress.moments[lang]).sort()).toEqual(moments);
      for (const moment of moments) expect(shared.progress.moments[lang][moment as "queued"]).not.toBe("");
    }
  });

  test("cuts an artifact into pieces that fit a document even when every byte is text", () => {
    const { partBytes, maxParts } = shared.artifacts;
    // The piece is stored with its job id, step and part number beside it.
    expect(partBytes + 1024).toBeLessThan(DOCUMENT_LIMIT_BYTES);
    expect(maxParts).toBeGreaterThan(1);
  });
});
