// The texts a job's `progress` field shows, in the web app's language or the
// operators'. The web's UI is French and shows `progress` as it is unless its
// translateProgress recognises a few English words, so French is the default.
// Job logs always get the English step line ("Step 3/6: Determining order"), which
// the runbook greps. store/progress.py is the Python copy: its tables are
// pinned to shared.json, and the contract suite (tests/unit/test_store_contract.py)
// checks that both stores write the same texts.
import { invalid } from "./errors";
import shared from "./shared.json";

// The texts and step names are read from shared.json, which the Python copy is
// pinned to; the languages are the keys of its moments.
const MOMENTS = shared.progress.moments;
export type Language = keyof typeof MOMENTS;
export type Moment = keyof (typeof MOMENTS)[Language];
export const LANGUAGES = Object.keys(MOMENTS) as readonly Language[];
export const DEFAULT_LANGUAGE = shared.progress.defaultLanguage as Language;

export const ANALYSIS_STEPS = shared.steps.analysisSteps;
export const STEP_NAMES: readonly string[] = shared.steps.names;

// The Node worker's French names of the six analysis steps.
const FRENCH_STEP_NAMES: readonly string[] = shared.progress.frenchStepNames;

export function language(value: string | undefined): Language {
  if (value === undefined || value === "") return DEFAULT_LANGUAGE;
  if (!(LANGUAGES as readonly string[]).includes(value)) {
    throw invalid(`language must be one of ${LANGUAGES.join(", ")}, got ${value}`);
  }
  return value as Language;
}

export function stepName(step: number): string {
  const name = Number.isInteger(step) ? STEP_NAMES[step] : undefined;
  if (name === undefined) throw invalid(`no step ${step}`);
  return name;
}

// What `progress` shows while `step` runs.
export function stepProgress(step: number, lang: Language): string {
  const name = stepName(step);
  if (lang === "fr") {
    if (step === 0) return "Clonage du dépôt...";
    if (step > ANALYSIS_STEPS) return "Sauvegarde des résultats...";
    return `Étape ${step}/${ANALYSIS_STEPS}: ${FRENCH_STEP_NAMES[step - 1]}`;
  }
  if (step === 0 || step > ANALYSIS_STEPS) return name;
  return `Step ${step}/${ANALYSIS_STEPS}: ${name}`;
}

// The job log's line for a step start, always the operators' English.
export function stepLogLine(step: number): string {
  return stepProgress(step, "en");
}

export function momentText(moment: Moment, lang: Language): string {
  return MOMENTS[lang][moment];
}
