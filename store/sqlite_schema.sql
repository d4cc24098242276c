-- The embedded job store. Column names are the Convex field names, so a row maps to a
-- record one to one. Times are epoch milliseconds.
CREATE TABLE IF NOT EXISTS repositories (
    id TEXT PRIMARY KEY,
    userId TEXT NOT NULL,
    githubRepoId TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL,
    fullName TEXT NOT NULL,
    description TEXT,
    defaultBranch TEXT NOT NULL,
    cloneUrl TEXT,
    lastFetched INTEGER,
    lastAnalyzedAt INTEGER,
    UNIQUE (userId, fullName)
);

CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    userId TEXT NOT NULL,
    repositoryId TEXT NOT NULL,
    status TEXT NOT NULL,
    prompt TEXT NOT NULL DEFAULT '',
    callbackToken TEXT NOT NULL DEFAULT '',
    runAt INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    maxAttempts INTEGER NOT NULL DEFAULT 5,
    lockedBy TEXT,
    leaseUntil INTEGER,
    leaseToken TEXT,
    dedupeKey TEXT,
    lastError TEXT,
    createdAt INTEGER NOT NULL,
    updatedAt INTEGER,
    completedAt INTEGER,
    progress TEXT,
    currentStep INTEGER,
    totalSteps INTEGER,
    result TEXT,
    error TEXT,
    docsCount INTEGER,
    cancelRequested INTEGER,
    runId TEXT,
    ref TEXT,
    fresh INTEGER,
    regenerationStats TEXT
);
CREATE INDEX IF NOT EXISTS repositories_by_fullName ON repositories (fullName);
CREATE INDEX IF NOT EXISTS jobs_by_status_runAt ON jobs (status, runAt, createdAt);
CREATE INDEX IF NOT EXISTS jobs_by_leaseUntil ON jobs (leaseUntil);
CREATE INDEX IF NOT EXISTS jobs_by_dedupeKey ON jobs (dedupeKey);
CREATE INDEX IF NOT EXISTS jobs_by_lockedBy ON jobs (lockedBy, status);
CREATE INDEX IF NOT EXISTS jobs_by_createdAt ON jobs (createdAt);

CREATE TABLE IF NOT EXISTS jobSteps (
    jobId TEXT NOT NULL,
    step INTEGER NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    runs INTEGER NOT NULL,
    artifact TEXT,
    startedAt INTEGER NOT NULL,
    completedAt INTEGER,
    worker TEXT,
    usage TEXT,
    PRIMARY KEY (jobId, step)
);

CREATE TABLE IF NOT EXISTS jobLogs (
    jobId TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    level TEXT NOT NULL,
    msg TEXT NOT NULL,
    PRIMARY KEY (jobId, seq)
);

CREATE TABLE IF NOT EXISTS docs (
    id TEXT PRIMARY KEY,
    jobId TEXT NOT NULL,
    repositoryId TEXT NOT NULL,
    slug TEXT NOT NULL,
    title TEXT NOT NULL,
    chapterIndex INTEGER NOT NULL,
    kind TEXT NOT NULL,
    content TEXT NOT NULL,
    createdAt INTEGER NOT NULL,
    updatedAt INTEGER,
    sourceKey TEXT,
    runId TEXT,
    UNIQUE (jobId, slug)
);
CREATE INDEX IF NOT EXISTS docs_by_repository ON docs (repositoryId);

-- Work a later job of the same repository may reuse (store/records.py, ReuseRecord).
CREATE TABLE IF NOT EXISTS reuseRecords (
    repositoryId TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    variant TEXT NOT NULL,
    value TEXT NOT NULL,
    jobId TEXT NOT NULL,
    createdAt INTEGER NOT NULL,
    PRIMARY KEY (repositoryId, kind, key, variant)
);
