// shared.json, the rules both halves of the worker read (the Python package reads the
// same file; tests/unit/test_shared_rules.py and test_step_table.py check its side),
// agrees with the schema the web app stores and with itself.
import { describe, expect, test } from "vitest";
import { jobStatus } from "../functions/worker/lib/fields";
import { DEFAULT_LANGUAGE, LANGUAGES, stepProgress } from "../functions/worker/lib/progress";
import { ANALYSIS_STEPS, FINALIZE_STEP, STEPS, stepLine } from "../functions/worker/lib/steps";
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

  test("has one row per step: the clone, the six analysis steps, then the save", () => {
    expect(STEPS.map((s) => s.status)).toEqual([
      "cloning",
      ...Array(6).fill("analyzing"),
      "gathering",
    ]);
    expect(ANALYSIS_STEPS).toBe(6);
    expect(FINALIZE_STEP).toBe(STEPS.length - 1);
    for (const field of ["key", "task", "name", "nameFr"] as const) {
      expect(new Set(STEPS.map((s) => s[field])).size).toBe(STEPS.length);
    }
    for (const s of STEPS) expect(shared.statuses.active).toContain(s.status);
    // Every analysis step has an artifact and an engine method; the save has neither.
    for (const s of STEPS.filter((row) => row.status === "analyzing")) {
      expect(s.artifact).toBeTruthy();
      expect(s.engineMethod).toBeTruthy();
    }
    expect(STEPS[FINALIZE_STEP]!.artifact).toBeNull();
  });

  test("numbers only the analysis steps in logs and progress", () => {
    expect(stepLine(0)).toBe("Cloning repository");
    expect(stepLine(3)).toBe("Step 3/6: Determining order");
    expect(stepLine(FINALIZE_STEP)).toBe("Saving course");
    expect(stepProgress(FINALIZE_STEP, "fr")).toBe("Sauvegarde des résultats...");
    expect(stepProgress(1, "fr")).toBe("Étape 1/6: Extraction des abstractions principales");
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
