// The texts a job's `progress` field shows, in the web app's language or the
// operators'. The web's UI is French and shows `progress` as it is unless its
// translateProgress recognises a few English words, so French is the default.
// Job logs always get the English step line ("Step 3/6: Determining order"), which
// the runbook greps. store/progress.py is the Python side: both read the step names
// from the step table (lib/steps.ts) and the moments from shared.json, and the
// contract suite (tests/unit/test_store_contract.py) checks that both stores write
// the same texts.
import { invalid } from "./errors";
import shared from "./shared.json";
import { ANALYSIS_STEPS, step, stepLine } from "./steps";

// The languages are the keys of shared.json's moments.
const MOMENTS = shared.progress.moments;
export type Language = keyof typeof MOMENTS;
export type Moment = keyof (typeof MOMENTS)[Language];
export const LANGUAGES = Object.keys(MOMENTS) as readonly Language[];
export const DEFAULT_LANGUAGE = shared.progress.defaultLanguage as Language;


export function language(value: string | undefined): Language {
  if (value === undefined || value === "") return DEFAULT_LANGUAGE;
  if (!(LANGUAGES as readonly string[]).includes(value)) {
    throw invalid(`language must be one of ${LANGUAGES.join(", ")}, got ${value}`);
  }
  return value as Language;
}

// What `progress` shows while step `number` runs: in French the Node worker's texts
// ("Étape 3/6: ..."), in English the log line.
export function stepProgress(number: number, lang: Language): string {
  if (lang === "en") return stepLine(number);
  const s = step(number);
  return s.status === "analyzing" ? `Étape ${number}/${ANALYSIS_STEPS}: ${s.nameFr}` : s.nameFr;
}

// The job log's line for a step start, always the operators' English.
export function stepLogLine(number: number): string {
  return stepLine(number);
}

export function momentText(moment: Moment, lang: Language): string {
  return MOMENTS[lang][moment];
}

// What `progress` shows once chapters are stored as their reviews end: the course
// page puts it after "Étape k sur 6: ", beside the chapters it already lists.
export function chaptersReadyProgress(ready: number, total: number, lang: Language): string {
  return shared.progress.chaptersReady[lang]
    .replace("{ready}", String(ready))
    .replace("{total}", String(total));
}
