-- accelbench's result store, schema 1. Records keep their full schema v1 JSON; the columns
-- beside it are what queries filter and join on (kernel x backend x adapter x commit over time).

CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL,
    -- Who produced it: `native` (accelbench native / the native endpoint), `browser`, `cli`.
    source      TEXT NOT NULL,
    -- `done`, or for server-side native runs `running` / `failed`.
    status      TEXT NOT NULL,
    message     TEXT,
    commit_sha  TEXT,
    browser     TEXT
);

CREATE TABLE adapters (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    vendor      TEXT NOT NULL,
    backend     TEXT NOT NULL,
    driver      TEXT NOT NULL,
    fallback    INTEGER NOT NULL,
    UNIQUE (name, vendor, backend, driver)
);

-- Where a record was measured: machine and, for browser runs, the browser.
CREATE TABLE environments (
    id              INTEGER PRIMARY KEY,
    os              TEXT NOT NULL,
    arch            TEXT NOT NULL,
    cpu             TEXT NOT NULL,
    browser         TEXT NOT NULL,
    browser_version TEXT NOT NULL,
    UNIQUE (os, arch, cpu, browser, browser_version)
);

CREATE TABLE records (
    id          INTEGER PRIMARY KEY,
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    kernel      TEXT NOT NULL,
    case_name   TEXT NOT NULL,
    dtype       TEXT NOT NULL,
    backend     TEXT NOT NULL,
    adapter_id  INTEGER REFERENCES adapters (id),
    environment_id INTEGER NOT NULL REFERENCES environments (id),
    status      TEXT NOT NULL,
    median_ns   REAL,
    commit_sha  TEXT NOT NULL,
    json        TEXT NOT NULL,
    UNIQUE (run_id, seq)
);

CREATE INDEX records_by_kernel ON records (kernel, backend, adapter_id, commit_sha);
CREATE INDEX runs_by_time ON runs (created_at);
