// The texts a job's `progress` field shows, in the web app's language or the
// operators'. The web's UI is French and shows `progress` as it is unless its
// translateProgress recognises a few English words, so French is the default.
// Job logs always get the English step line ("Step 3/6: Determining order"), which
// the runbook greps. bridge/store/progress.py is the Python copy; the contract
// suite (tests/unit/test_store_contract.py) runs both stores against it.
import { invalid } from "./errors";

export const LANGUAGES = ["fr", "en"] as const;
export type Language = (typeof LANGUAGES)[number];
export const DEFAULT_LANGUAGE: Language = "fr";

export const ANALYSIS_STEPS = 6;
export const STEP_NAMES = [
  "Cloning repository",
  "Extracting abstractions",
  "Analyzing relationships",
  "Determining order",
  "Generating chapters",
  "Reviewing chapters",
  "Creating tutorials",
  "Saving course",
] as const;

// The Node worker's French names of the six analysis steps.
const FRENCH_STEP_NAMES = [
  "Extraction des abstractions principales",
  "Analyse des relations entre composants",
  "Détermination de l'ordre optimal des chapitres",
  "Génération du contenu des chapitres",
  "Révision et amélioration des chapitres",
  "Génération de tutoriels interactifs",
] as const;

export type Moment = "claimed" | "queued" | "retrying" | "completed" | "failed" | "dead" | "canceled";

const MOMENTS: Record<Language, Record<Moment, string>> = {
  en: {
    claimed: "Claimed",
    queued: "Queued",
    retrying: "Retrying",
    completed: "Completed",
    failed: "Failed",
    dead: "Dead",
    canceled: "Canceled",
  },
  fr: {
    claimed: "Initialisation...",
    queued: "En attente...",
    retrying: "Nouvelle tentative prévue...",
    completed: "Terminé",
    failed: "Échec",
    dead: "Échec définitif",
    canceled: "Annulé",
  },
};

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
